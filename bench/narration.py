"""Continuous narration: ten minutes of prose, real Piper voice, real Player, null sink.

One request with the whole text, as a user reading a chapter would make. Figures: underruns
and their total gap (the engine's counters: the ring ran dry mid-utterance), device xruns
(PortAudio reported an output underflow), CPU of the process (``time.process_time`` over wall
time, all threads), and wall time against audio duration. ``--quick``: 30 s of audio.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from voxtray.core.model import RequestFinished, SpeakRequest
from voxtray.core.settings import Settings

from tests.harness.pulse import private_pulse

from .prose import prose
from .report import LoadMeter, emit, note
from .rig import FirstAudioWatch, player_for, running_narrator

NAME = "narration"
CHARS_PER_SECOND = 19.5
"""The Joe voice reads this prose at about this many characters per second of audio."""


def run(quick: bool, settings: Settings | None = None) -> None:
    seconds = 30 if quick else 600
    with private_pulse():
        asyncio.run(_measure(seconds, settings or Settings()))


async def _measure(seconds: float, settings: Settings) -> None:
    text = prose(int(seconds * CHARS_PER_SECOND))
    player = player_for(settings)
    async with running_narrator(player, settings=settings) as narrator:
        watch = FirstAudioWatch(narrator)
        meter = LoadMeter()
        cpu_before, wall_before = time.process_time(), time.monotonic()
        handle = narrator.speak(SpeakRequest(text=text))
        note(f"narration: {len(text):,} characters, about {seconds:.0f} s of audio")
        ttfa = await watch.latency(handle.request_id)
        outcome = await handle.wait()
        wall = time.monotonic() - wall_before
        cpu = time.process_time() - cpu_before
        stats = narrator.stats()
        counters = player.counters()
    audio = counters.frames_played / counters.sample_rate
    context: dict[str, Any] = {
        "text_chars": len(text),
        "words": len(text.split()),
        "audio_s": audio,
        "completed": isinstance(outcome, RequestFinished),
        "synthesis_threads": settings.engine.synthesis_threads,
        "output_latency_s": counters.latency,
        **meter.context(),
    }
    emit(NAME, "underruns", stats.underruns, "count", target=0, **context)
    emit(NAME, "gap_seconds", stats.gap_seconds, "s", target=0.0, **context)
    emit(NAME, "device_xruns", counters.xruns, "count", **context)
    emit(NAME, "cpu_cores", cpu / wall, "cores", nproc=os.cpu_count(), **context)
    emit(NAME, "cpu_per_audio_second", cpu / audio if audio else None, "s/s", **context)
    emit(NAME, "wall_over_audio", wall / audio if audio else None, "x", wall_s=wall, **context)
    emit(NAME, "first_audio_fresh_narrator", ttfa, "s", **context)
