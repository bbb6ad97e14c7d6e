"""Time to first audio with the local voice, warm, against raw Piper's first chunk.

VoxTray: ``speak()`` → the first non-silent sample handed to the sound card callback, which
is exactly the ``FirstAudio`` event's ``latency`` (real Player, private PulseAudio null sink).
Raw Piper: ``PiperVoice.synthesize(text)`` → its first chunk, same voice files, same text.
Runs alternate between the two so that both see the same background load. Each VoxTray
request plays to its end, so every run starts from an idle, warm engine.

Two engine configurations run: ``voxtray`` (the settings as shipped: one onnxruntime thread)
and ``voxtray_threads2`` (``engine.synthesis_threads = 2``), to show what the thread count
costs the first clause. The ratio against raw Piper uses the raw runs of the whole benchmark.
"""

from __future__ import annotations

import asyncio
from typing import Any

from voxtray.core.model import SpeakRequest
from voxtray.core.settings import Settings

from tests.harness.pulse import private_pulse

from .prose import FIRST_SENTENCE
from .raw_piper import first_chunk_seconds, load_voice
from .report import LoadMeter, emit, note, percentile
from .rig import FirstAudioWatch, player_for, running_narrator

NAME = "ttfa"
TARGET_RATIO = 0.7


def _variants() -> dict[str, Settings]:
    base = Settings()
    return {
        "voxtray": base,
        "voxtray_threads2": base.replace(engine=base.engine.replace(synthesis_threads=2)),
    }


def run(quick: bool) -> None:
    runs = 5 if quick else 20
    with private_pulse():
        asyncio.run(_measure(runs))


async def _measure(runs: int) -> None:
    meter = LoadMeter()
    raw = await asyncio.to_thread(load_voice)
    raw_samples: list[float] = []
    ours: dict[str, list[float]] = {}
    latency = 0.0
    for name, settings in _variants().items():
        samples = ours.setdefault(name, [])
        player = player_for(settings)
        async with running_narrator(player, settings=settings) as narrator:
            watch = FirstAudioWatch(narrator)
            for index in range(runs + 1):  # run 0 warms onnxruntime and the idle sink up
                handle = narrator.speak(SpeakRequest(text=FIRST_SENTENCE))
                heard = await watch.latency(handle.request_id)
                await handle.wait()
                baseline = await asyncio.to_thread(first_chunk_seconds, raw, FIRST_SENTENCE)
                if index:
                    samples.append(heard)
                    raw_samples.append(baseline)
                    note(f"ttfa {name} {index}/{runs}: {heard:.3f} s, raw {baseline:.3f} s")
            latency = player.counters().latency
    context: dict[str, Any] = {
        "runs": runs,
        "text_chars": len(FIRST_SENTENCE),
        "first_clause_chars": Settings().engine.first_clause_chars,
        "output_latency_s": latency,
        **meter.context(),
    }
    raw_p50 = percentile(raw_samples, 50)
    emit(NAME, "raw_piper_p50", raw_p50, "s", raw_runs=len(raw_samples), **context)
    emit(NAME, "raw_piper_p95", percentile(raw_samples, 95), "s", **context)
    for name, samples in ours.items():
        threads = _variants()[name].engine.synthesis_threads
        emit(NAME, f"{name}_p50", percentile(samples, 50), "s", threads=threads, **context)
        emit(NAME, f"{name}_p95", percentile(samples, 95), "s", threads=threads, **context)
        emit(
            NAME,
            f"{name}_ratio_p50_over_raw",
            percentile(samples, 50) / raw_p50,
            "x",
            target=TARGET_RATIO,
            threads=threads,
            **context,
        )
