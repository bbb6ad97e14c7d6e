"""Export speed: VoxTray's real-time factor against raw Piper's, same text, same run.

RTF here is audio seconds / wall seconds (higher is faster). VoxTray exports through the
engine as ``voxtray export`` does (``build_narrator`` with a FileSink writing a WAV); raw Piper
runs ``PiperVoice.synthesize`` over the same full text into a WAV with the ``wave`` module. Both
voices are loaded (warm) before the clock starts. Variants run in turns (raw, then each engine
configuration) ``rounds`` times, and the median of each is reported:

* ``default``: as ``voxtray export`` ships (``engine.export_providers``: 1 synthesis thread,
  as many segments at once as there are cores);
* ``concurrency1``: one segment at a time (the live playback setting);
* ``threads2``: ``engine.synthesis_threads = 2``, one segment on two onnxruntime threads.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import soundfile as sf
from voxtray.core.audio.sinks import FileSink
from voxtray.core.engine import default_providers
from voxtray.core.model import RequestFinished, SpeakRequest
from voxtray.core.settings import Settings

from .prose import prose
from .raw_piper import load_voice, synthesize_to_wav
from .report import LoadMeter, emit, note
from .rig import running_narrator

NAME = "export_speed"
TARGET_RATIO = 0.95
AUDIO_SECONDS = 120


def _variants() -> dict[str, tuple[Settings, int]]:
    base = Settings()
    threads2 = base.replace(engine=base.engine.replace(synthesis_threads=2))
    shipped = os.cpu_count() or 1  # what `voxtray export` uses: engine.export_providers
    return {
        "default": (base, shipped),
        "concurrency1": (base, 1),
        "threads2": (threads2, 1),
    }


def run(quick: bool) -> None:
    seconds = 30 if quick else AUDIO_SECONDS
    rounds = 1 if quick else 3
    text = prose(int(seconds * 19.5))
    meter = LoadMeter()
    rtf: dict[str, list[float]] = {"raw_piper": []}
    audio: dict[str, float] = {}
    raw = load_voice()
    with tempfile.TemporaryDirectory(prefix="voxtray-bench-") as tmp:
        for round_ in range(rounds):
            seconds_raw, wall = synthesize_to_wav(raw, text, Path(tmp) / "raw.wav")
            rtf["raw_piper"].append(seconds_raw / wall)
            audio["raw_piper"] = seconds_raw
            note(f"export round {round_ + 1}: raw {seconds_raw / wall:.1f}× real time")
            for name, (settings, concurrency) in _variants().items():
                path = Path(tmp) / f"{name}.wav"
                wall = asyncio.run(_export(text, path, settings, concurrency))
                audio[name] = sf.info(str(path)).duration
                rtf.setdefault(name, []).append(audio[name] / wall)
                note(f"export round {round_ + 1}: {name} {audio[name] / wall:.1f}× real time")
    context = {"text_chars": len(text), "rounds": rounds, **meter.context()}
    raw_median = statistics.median(rtf["raw_piper"])
    for name, samples in rtf.items():
        median = statistics.median(samples)
        emit(NAME, f"{name}_rtf", median, "x_realtime", audio_s=audio[name], **context)
        if name != "raw_piper":
            emit(
                NAME,
                f"{name}_ratio_over_raw",
                median / raw_median,
                "x",
                target=TARGET_RATIO,
                target_op=">=",
                **context,
            )


async def _export(text: str, path: Path, settings: Settings, concurrency: int) -> float:
    """Wall seconds of one export, voice already loaded."""
    registry = default_providers(settings, concurrency=concurrency)
    sink = FileSink(path)
    async with running_narrator(sink, settings=settings, providers=registry) as narrator:
        started = time.perf_counter()
        outcome = await narrator.speak(SpeakRequest(text=text)).wait()
        wall = time.perf_counter() - started
    if not isinstance(outcome, RequestFinished):
        raise RuntimeError(f"the export ended with {type(outcome).__name__}")
    return wall
