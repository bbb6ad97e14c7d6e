"""Shared pieces of the cloud-voice tests: the engine against the ElevenLabs fake, assembled as
the app assembles it, and the checks those tests make (order of tone pitches, leaks).

The fake runs in tone mode: a segment sounds at ``200 + 50·n`` Hz, ``n`` being the first integer
in the text it was sent. :func:`numbered_text` writes sentences in which *every* word-start
suffix has the sentence's own number as its first integer, so a segment resumed at any
word after a dropped stream still sounds at its own pitch. The local voice, where a test needs
it as the fallback, is a stand-in tone at :data:`LOCAL_PITCH` (below every cloud pitch) under
the id ``piper``, so the whole recording can be read as a sequence of pitches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import psutil
from voxtray.core.audio.output import AudioOutput
from voxtray.core.engine import elevenlabs_base_url, local_voice
from voxtray.core.model import (
    AudioChunk,
    Capabilities,
    Event,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestId,
    Segment,
    SynthesisJob,
    Voice,
    VoiceRef,
)
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.elevenlabs.provider import ElevenLabsProvider, Transport
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import Settings

from tests.fakes.elevenlabs import FakeElevenLabs, tone_pitch
from tests.harness.signal import dominant_frequency, window_rms

KEY = "test-key"
RATE = 22050
"""The cloud's PCM rate in these tests (the settings' default), and the stand-in's."""
LOCAL_PITCH = 150.0
"""The local-voice stand-in's pitch: below 200 Hz, the lowest a cloud segment can have."""
RACHEL = "21m00Tcm4TlvDq8ikWAM"
ELEVEN = VoiceRef("elevenlabs", RACHEL)

_E = TypeVar("_E", bound=Event)


def sentences(numbers: Iterable[int]) -> list[str]:
    """One sentence per number; any word-start suffix of sentence ``k`` has ``k`` first.

    (``4x`` rather than ``4``: a run of sentences ending in bare numbers, "… 1. Part 2 … 2.",
    reads to the sentence splitter as a numbered list and is cut before the numbers.)
    """
    return [f"Part {k} has {k}x and {k}x and {k}x." for k in numbers]


def numbered_text(numbers: Iterable[int]) -> str:
    return " ".join(sentences(numbers))


class LocalStandIn:
    """The local voice (id ``piper``) as a fixed tone, so a fallback is audible by pitch."""

    def __init__(self, *, seconds_per_char: float) -> None:
        self._tone = ToneProvider(sample_rate=RATE, seconds_per_char=seconds_per_char)
        self.jobs: list[str] = []

    @property
    def id(self) -> str:
        return "piper"

    @property
    def capabilities(self) -> Capabilities:
        return self._tone.capabilities

    async def warm(self) -> None:
        return None

    async def voices(self) -> list[Voice]:
        return []

    async def synthesize(self, job: SynthesisJob) -> AsyncIterator[AudioChunk]:
        self.jobs.append(job.segment.text)
        as_tone = replace(job, voice=VoiceRef("tone", f"{LOCAL_PITCH:g}"))
        async for chunk in self._tone.synthesize(as_tone):
            yield chunk

    async def aclose(self) -> None:
        await self._tone.aclose()


def cloud_settings(
    fake: FakeElevenLabs,
    *,
    transport: Transport = "auto",
    fallback: bool = True,
    cache: bool = False,
    concurrency: int = 0,
) -> Settings:
    """The user's settings with the fake as the service and the cloud as the default voice.

    Without pauses between sentences: these tests time the stream itself, segment by segment
    (the pauses have their own tests, tests/unit/test_transport.py)."""
    base = Settings()
    return base.replace(
        voice=base.voice.replace(
            provider="elevenlabs", voice=RACHEL, sentence_pause=0.0, paragraph_pause=0.0
        ),
        elevenlabs=base.elevenlabs.replace(
            base_url=fake.base_url,
            transport=transport,
            fallback_to_local=fallback,
            concurrency=concurrency,
            voice=RACHEL,
        ),
        cache=base.cache.replace(enabled=cache),
    )


def cloud_provider(
    settings: Settings,
    api_key: Callable[[], str | None],
    *,
    stall_timeout: float = 2.0,
    connect_timeout: float = 2.0,
) -> ElevenLabsProvider:
    """``ElevenLabsProvider`` with exactly the arguments ``default_providers`` gives it, plus
    short timeouts (the app's are 10 s and 20 s: a stall test would wait that long)."""
    cloud = settings.elevenlabs
    transport: Transport = cloud.transport  # type: ignore[assignment]
    return ElevenLabsProvider(
        api_key,
        base_url=elevenlabs_base_url(settings),
        model_id=cloud.model,
        sample_rate=cloud.sample_rate,
        transport=transport,
        concurrency_limit=cloud.concurrency or None,
        default_voice=cloud.voice,
        stall_timeout=stall_timeout,
        connect_timeout=connect_timeout,
    )


def cloud_narrator(
    settings: Settings,
    output: AudioOutput,
    *,
    api_key: Callable[[], str | None] = lambda: KEY,
    seconds_per_char: float = 0.05,
    stall_timeout: float = 2.0,
    retry_base_delay: float = 0.02,
) -> tuple[Narrator, ElevenLabsProvider, LocalStandIn]:
    """A narrator wired as ``build_narrator`` wires it (same worker settings, same fallback
    rule), with the local-voice stand-in and a short first retry delay."""
    provider = cloud_provider(settings, api_key, stall_timeout=stall_timeout)
    local = LocalStandIn(seconds_per_char=seconds_per_char)
    registry = ProviderRegistry()
    registry.add(provider)
    registry.add(local)  # type: ignore[arg-type]
    narrator = Narrator(
        output=output,
        providers=registry,
        default_voice=settings.voice.ref,
        settings=WorkerSettings(
            lookahead_seconds=settings.engine.lookahead_seconds,
            first_clause_chars=settings.engine.first_clause_chars,
            fallback_voice=local_voice(settings) if settings.elevenlabs.fallback_to_local else None,
            retry_base_delay=retry_base_delay,
        ),
        warm=False,
    )
    return narrator, provider, local


class EventLog:
    """Every event a narrator emitted, in order."""

    def __init__(self, narrator: Narrator) -> None:
        self.all: list[Event] = []
        self.remove = narrator.add_listener(self.all.append)

    def of(self, kind: type[_E]) -> list[_E]:
        return [e for e in self.all if isinstance(e, kind)]

    def terminal(self) -> list[Event]:
        return [
            e for e in self.all if isinstance(e, RequestFinished | RequestFailed | RequestCanceled)
        ]


def speech_job(
    text: str, *, urgent: bool = False, voice: str = RACHEL, index: int = 0
) -> SynthesisJob:
    """One cloud synthesis call, as the scheduler makes it for segment ``index``."""
    return SynthesisJob(
        RequestId(1),
        Segment(index, text, 0, len(text)),
        VoiceRef("elevenlabs", voice),
        urgent=urgent,
    )


async def collect(provider: ElevenLabsProvider, job: SynthesisJob) -> list[AudioChunk]:
    return [chunk async for chunk in provider.synthesize(job)]


ProviderFactory = Callable[..., ElevenLabsProvider]


@asynccontextmanager
async def provider_factory(fake: FakeElevenLabs) -> AsyncIterator[ProviderFactory]:
    """Make ElevenLabs providers aimed at ``fake``: ``make(key, **options)``, where ``key`` is
    the key or a function returning it (a key that changes); all are closed at the end."""
    made: list[ElevenLabsProvider] = []

    def make(key: str | Callable[[], str | None] = KEY, **options: Any) -> ElevenLabsProvider:
        options.setdefault("base_url", fake.base_url)
        options.setdefault("stall_timeout", 5.0)
        source = key if callable(key) else (lambda: key)
        provider = ElevenLabsProvider(source, **options)
        made.append(provider)
        return provider

    try:
        yield make
    finally:
        for provider in made:
            await provider.aclose()


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> bool:
    """Poll ``condition`` on the loop without blocking it (``fake.wait_until`` would)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        await asyncio.sleep(0.005)
    return True


# -- reading a tone recording ------------------------------------------------------------------


@dataclass(frozen=True)
class PitchRun:
    """A stretch of the recording at one pitch."""

    pitch: float
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def pitch_runs(
    samples: npt.NDArray[np.float32],
    rate: int,
    candidates: Iterable[float],
    *,
    window: float = 0.04,
    hop: float = 0.01,
    level: float = 0.02,
    tolerance: float = 18.0,
    min_run: float = 0.045,
) -> list[PitchRun]:
    """The recording as runs of known pitches, in order.

    Each ``window``-long frame (every ``hop``) louder than ``level`` RMS is labelled with the
    nearest of ``candidates`` within ``tolerance`` Hz. Frames that straddle a join (two pitches,
    or a ramp) may be unlabelled or mislabelled, so runs shorter than ``min_run`` are dropped
    and equal neighbours are merged across them. Silence is not a label: a run continues
    across a silence, which the gap checks look at separately.
    """
    pitches = sorted(set(candidates))
    size, step = round(window * rate), round(hop * rate)
    labels: list[float | None] = []
    for start in range(0, max(0, len(samples) - size + 1), step):
        frame = samples[start : start + size]
        if float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) < level:
            labels.append(None)
            continue
        found = dominant_frequency(frame, rate)
        nearest = min(pitches, key=lambda p: abs(p - found))
        labels.append(nearest if abs(nearest - found) <= tolerance else None)
    runs: list[PitchRun] = []
    index = 0
    while index < len(labels):
        label = labels[index]
        end = index
        while end < len(labels) and labels[end] == label:
            end += 1
        if label is not None:
            runs.append(PitchRun(label, index * hop, (end - 1) * hop + window))
        index = end
    kept = [run for run in runs if run.duration >= min_run + window]
    merged: list[PitchRun] = []
    for run in kept:
        if merged and merged[-1].pitch == run.pitch:
            merged[-1] = PitchRun(run.pitch, merged[-1].start, run.end)
        else:
            merged.append(run)
    # Frames that straddle a join count for both sides: put the join halfway between.
    for i in range(len(merged) - 1):
        a, b = merged[i], merged[i + 1]
        if a.end > b.start:
            join = (a.end + b.start) / 2
            merged[i], merged[i + 1] = (
                PitchRun(a.pitch, a.start, join),
                PitchRun(b.pitch, join, b.end),
            )
    return merged


def expected_pitches(texts: Iterable[str]) -> list[float]:
    return [tone_pitch(text) for text in texts]


def sounding(samples: npt.NDArray[np.float32], rate: int, level: float = 0.02) -> float:
    """Seconds of the recording louder than ``level`` (5 ms RMS windows)."""
    levels = window_rms(samples, rate, 0.005)
    return float(np.count_nonzero(levels > level)) * 0.005


# -- leaks -----------------------------------------------------------------------------------


def tcp_to(port: int) -> list[psutil._common.pconn]:
    """This process's TCP connections to ``port`` (the client side of each)."""
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status != psutil.CONN_TIME_WAIT
    ]


def tcp_at(port: int) -> list[psutil._common.pconn]:
    """Accepted TCP connections on ``port`` in this process (the in-process fake's side)."""
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.raddr and c.status != psutil.CONN_TIME_WAIT
    ]


def other_tasks() -> set[asyncio.Task[object]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


async def assert_no_leaks(
    fake: FakeElevenLabs, tasks_before: set[asyncio.Task[object]], within: float = 3.0
) -> None:
    """After the narrator closed: no task of ours, no socket to the fake, and the fake saw
    every request and socket end."""
    assert await eventually(lambda: other_tasks() <= tasks_before, within), (
        f"tasks left running: {other_tasks() - tasks_before}"
    )
    assert await eventually(lambda: not tcp_to(fake.port), within), (
        f"client sockets left open: {tcp_to(fake.port)}"
    )
    assert await eventually(lambda: not tcp_at(fake.port), within), (
        f"the fake still holds connections: {tcp_at(fake.port)}"
    )
    assert await eventually(lambda: all(r.ended is not None for r in fake.requests), within), (
        f"requests the fake still serves: {[r for r in fake.requests if r.ended is None]}"
    )
    assert await eventually(
        lambda: all(c.closed is not None for c in fake.websocket_contexts), within
    ), "a socket the fake still holds open"
