"""ElevenLabs against the local fake: the app's own overhead, and what concurrency buys an export.

**Overhead on time to first byte.** The fake answers after exactly 150 ms (``set_latency``), in
tone mode. ``speak()`` → the first sample handed to the sound card callback (``FirstAudio``,
real Player, private PulseAudio null sink), minus those 150 ms, is what the app adds: request
building, the client stack, segmentation, scheduling, playback start. Four variants: HTTP or
WebSocket, warm (the provider's ``warm()`` ran and one utterance went before) or cold (a fresh
narrator and provider per utterance, no ``warm()``), with the connections opened per utterance
read from ``provider.counters()``.

**Export with concurrency.** A long text exported (FileSink, ``interactive=False``) while the
fake takes 1 s per segment (TTFB 1 s, then the audio at once), with the plan's limit at 5 and
the client's at 5, then at 1. Figures: the speed-up, the 429s the provider counted, failures.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from voxtray.core.audio.sinks import FileSink
from voxtray.core.engine import build_narrator
from voxtray.core.model import RequestFinished, SpeakRequest, VoiceRef
from voxtray.core.providers.elevenlabs.provider import ElevenLabsProvider, Transport
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.settings import Settings

from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.pulse import private_pulse

from .report import LoadMeter, emit, note, percentile
from .rig import FirstAudioWatch, player_for

NAME = "cloud"
KEY = "bench-key"
TTFB = 0.150
OVERHEAD_TARGET = 0.005
SPEEDUP_TARGET = 4.5
VOICE = VoiceRef("elevenlabs", "21m00Tcm4TlvDq8ikWAM")


def _settings(fake: FakeElevenLabs, transport: Transport, concurrency: int = 0) -> Settings:
    base = Settings()
    return base.replace(
        elevenlabs=base.elevenlabs.replace(
            base_url=fake.base_url,
            transport=transport,
            voice=VOICE.voice_id or "",
            concurrency=concurrency,
            fallback_to_local=False,
        ),
        cache=base.cache.replace(enabled=False),  # every utterance must reach the service
    )


def _registry(settings: Settings) -> tuple[ProviderRegistry, ElevenLabsProvider]:
    """The provider exactly as ``default_providers`` makes it (the key from the environment)."""
    cloud = settings.elevenlabs
    provider = ElevenLabsProvider(
        lambda: os.environ.get("ELEVENLABS_API_KEY"),
        base_url=cloud.base_url,
        model_id=cloud.model,
        sample_rate=cloud.sample_rate,
        transport=cloud.transport,  # type: ignore[arg-type]
        concurrency_limit=cloud.concurrency or None,
        default_voice=cloud.voice,
    )
    registry = ProviderRegistry()
    registry.add(provider)
    return registry, provider


def run(quick: bool) -> None:
    os.environ["ELEVENLABS_API_KEY"] = KEY
    with FakeElevenLabs(mode="tone", keys=[(KEY, "pro", 10_000_000)]) as fake:
        fake.configure(tone_seconds_per_char=0.01)
        with private_pulse():
            asyncio.run(_overhead(fake, runs=8 if quick else 30))
        fake.faults.clear()
        asyncio.run(_export(fake, segments=10 if quick else 30))


# -- overhead on TTFB -----------------------------------------------------------------------------


async def _one(
    fake: FakeElevenLabs, transport: Transport, *, warm: bool, narrator_state: dict[str, Any]
) -> tuple[float, int]:
    """One utterance; its FirstAudio latency and the connections it opened."""
    text = "Part 1 has 1x."
    if not warm or "narrator" not in narrator_state:
        settings = _settings(fake, transport)
        registry, provider = _registry(settings)
        narrator = build_narrator(
            settings, output=player_for(settings), providers=registry, voice=VOICE, warm=False
        )
        await narrator.start()
        if warm:
            await provider.warm()
            await narrator.speak(SpeakRequest(text=text)).wait()  # the sink and socket warm up
        narrator_state.update(narrator=narrator, provider=provider, watch=FirstAudioWatch(narrator))
    narrator, provider, watch = (narrator_state[k] for k in ("narrator", "provider", "watch"))
    opened = provider.counters().connections_opened
    handle = narrator.speak(SpeakRequest(text=text))
    latency = await watch.latency(handle.request_id)
    outcome = await handle.wait()
    if not isinstance(outcome, RequestFinished):
        raise RuntimeError(f"the utterance ended with {outcome}")
    new = provider.counters().connections_opened - opened
    if not warm:
        await narrator.aclose()
        narrator_state.clear()
    return latency, new


async def _overhead(fake: FakeElevenLabs, runs: int) -> None:
    meter = LoadMeter()
    fake.faults.set_latency(TTFB)
    results: dict[str, tuple[list[float], list[int]]] = {}
    for transport in ("http", "websocket"):
        for warm in (True, False):
            name = f"{'ws' if transport == 'websocket' else 'http'}_{'warm' if warm else 'cold'}"
            state: dict[str, Any] = {}
            overheads, opened = results.setdefault(name, ([], []))
            for index in range(runs):
                latency, new = await _one(fake, transport, warm=warm, narrator_state=state)
                overheads.append(latency - TTFB)
                opened.append(new)
                note(f"cloud {name} {index + 1}/{runs}: overhead {1000 * (latency - TTFB):.1f} ms")
            if state:
                await state["narrator"].aclose()
    context = {"runs": runs, "server_ttfb_s": TTFB, **meter.context()}
    for name, (overheads, opened) in results.items():
        warm = name.endswith("warm")
        emit(NAME, f"{name}_overhead_p50", percentile(overheads, 50), "s", **context)
        emit(
            NAME,
            f"{name}_overhead_p95",
            percentile(overheads, 95),
            "s",
            **({"target": OVERHEAD_TARGET} if warm else {}),
            **context,
        )
        emit(NAME, f"{name}_connections_per_utterance", statistics.mean(opened), "count", **context)


# -- export with concurrency ----------------------------------------------------------------------


async def _export_once(fake: FakeElevenLabs, text: str, limit: int, path: Path) -> dict[str, Any]:
    settings = _settings(fake, "auto", concurrency=limit)
    registry, provider = _registry(settings)
    narrator = build_narrator(
        settings,
        output=FileSink(path),
        providers=registry,
        voice=VOICE,
        warm=False,
        interactive=False,
    )
    async with narrator:
        await provider.warm()
        failed = 0
        narrator.add_listener(lambda e: None)
        started = time.perf_counter()
        outcome = await narrator.speak(SpeakRequest(text=text)).wait()
        wall = time.perf_counter() - started
        counters = provider.counters()
        stats = narrator.stats()
    if not isinstance(outcome, RequestFinished):
        failed = 1
    return {
        "wall": wall,
        "rate_limited": sum(counters.rate_limited.values()),
        "requests": counters.requests,
        "failed": failed,
        "retries": stats.retries,
    }


async def _export(fake: FakeElevenLabs, segments: int) -> None:
    meter = LoadMeter()
    fake.set_concurrency(KEY, 5)
    fake.faults.set_latency(1.0)
    text = " ".join(f"Part {k} has {k}x and {k}x and {k}x." for k in range(1, segments + 1))
    with tempfile.TemporaryDirectory(prefix="voxtray-bench-") as tmp:
        five = await _export_once(fake, text, 5, Path(tmp) / "five.wav")
        note(f"cloud export at limit 5: {five['wall']:.1f} s")
        one = await _export_once(fake, text, 1, Path(tmp) / "one.wav")
        note(f"cloud export at limit 1: {one['wall']:.1f} s")
    context = {"segments": segments, "seconds_per_segment": 1.0, **meter.context()}
    emit(NAME, "export_limit5_wall", five["wall"], "s", **context)
    emit(NAME, "export_limit1_wall", one["wall"], "s", **context)
    emit(
        NAME,
        "export_speedup_limit5_over_limit1",
        one["wall"] / five["wall"],
        "x",
        target=SPEEDUP_TARGET,
        target_op=">=",
        **context,
    )
    emit(
        NAME,
        "export_surfaced_429s",
        five["rate_limited"] + one["rate_limited"],
        "count",
        target=0,
        failed_requests=five["failed"] + one["failed"],
        retries=five["retries"] + one["retries"],
        **context,
    )
