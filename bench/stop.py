"""Stop → silence: how long sound goes on after ``stop()``, measured on the recording.

Each run speaks, waits for first audio plus a random 0.2–0.6 s, calls ``stop()`` and records
the null sink's monitor (as tests/system/test_narration_sound.py does): the figure is the time
of the last sample above -50 dBFS minus the time of ``stop()``. Two sources: a long tone (a
continuous signal, so the measurement is exact) and Piper speech (the realistic load: the
synthesis thread is busy while stopping; a stop that lands in a pause of the speech reads as
a negative figure, i.e. already silent).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from voxtray.core.engine import default_providers
from voxtray.core.model import RequestCanceled, SpeakRequest, VoiceRef
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import Settings

from tests.harness.pulse import PulseServer, private_pulse
from tests.harness.signal import db, last_sound

from .prose import prose
from .report import LoadMeter, emit, note, percentile
from .rig import PIPER, FirstAudioWatch, player_for, running_narrator

NAME = "stop"
TARGET_P95 = 0.05
THRESHOLD = db(-50)


def run(quick: bool) -> None:
    runs = 5 if quick else 20
    with private_pulse() as pulse:
        for source in ("tone", "piper"):
            asyncio.run(_measure(pulse, source, runs))


async def _measure(pulse: PulseServer, source: str, runs: int) -> None:
    meter = LoadMeter()
    rng = random.Random(20261121)
    settings = Settings()
    registry = default_providers(settings)
    registry.add(ToneProvider(seconds_per_char=0.02))
    voice, text = (VoiceRef("tone", "440"), "x" * 1000) if source == "tone" else (PIPER, prose(800))
    player = player_for(settings)
    delays: list[float] = []
    async with running_narrator(player, settings=settings, providers=registry, voice=voice) as n:
        watch = FirstAudioWatch(n)
        for index in range(runs):
            with pulse.recorder() as recorder:
                handle = n.speak(SpeakRequest(text=text))
                await watch.latency(handle.request_id)
                await asyncio.sleep(rng.uniform(0.2, 0.6))
                stopped_at = time.monotonic()
                n.stop()
                outcome = await handle.wait()
                await asyncio.sleep(0.4)  # record the tail, if any
            heard = recorder.result
            end = last_sound(heard.samples, heard.rate, threshold=THRESHOLD)
            if end is None or not isinstance(outcome, RequestCanceled):
                raise RuntimeError(f"run {index}: nothing heard, or {type(outcome).__name__}")
            delays.append(heard.start + end - stopped_at)
            note(f"stop {source} run {index + 1}/{runs}: {delays[-1] * 1000:.1f} ms")
            await asyncio.sleep(0.3)
    context: dict[str, Any] = {"source": source, "runs": runs, **meter.context()}
    emit(NAME, f"{source}_p50", percentile(delays, 50), "s", **context)
    emit(NAME, f"{source}_p95", percentile(delays, 95), "s", target=TARGET_P95, **context)
    emit(NAME, f"{source}_max", max(delays), "s", **context)
