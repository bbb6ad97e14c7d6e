"""Retries, resume after a dropped stream, circuit breaker and fallback, with scripted failures.

The flaky provider is a test double (the real cloud client is tested against the fake server);
the output is the clocked in-memory one, the fallback the deterministic tone voice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from voxtray.core.errors import (
    AuthenticationError,
    ConnectionLostError,
    ErrorCategory,
    RateLimitedError,
    RequestRejectedError,
    ServiceError,
)
from voxtray.core.model import (
    AudioChunk,
    Capabilities,
    Event,
    ProviderFellBack,
    RequestFailed,
    RequestFinished,
    SpeakRequest,
    SynthesisJob,
    SynthesisRetried,
    Voice,
    VoiceRef,
)
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider

from tests.fakes.clocked_output import ClockedOutput
from tests.harness.signal import dominant_frequency

RATE = 22050
SECONDS_PER_CHAR = 0.01
CLOUD_PITCH = 880.0
CHUNK_CHARS = 10


@dataclass
class FlakyCloud:
    """Speaks a tone at 880 Hz, one chunk per 10 characters, failing as the script says.

    ``script`` is consumed one entry per synthesis call: ``None`` succeeds, an exception is
    raised before any audio, and ``(n, exc)`` raises after ``n`` chunks.
    """

    script: list[object] = field(default_factory=list)
    with_alignment: bool = True
    jobs: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "cloud"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_chars=400, max_concurrency=1, sample_rates=(RATE,))

    async def warm(self) -> None:
        return None

    async def voices(self) -> list[Voice]:
        return []

    async def aclose(self) -> None:
        return None

    async def synthesize(self, job: SynthesisJob) -> AsyncIterator[AudioChunk]:
        self.jobs.append(job.segment.text)
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        fail_after, error = step if isinstance(step, tuple) else (None, None)
        text = job.segment.text
        for number, start in enumerate(range(0, len(text), CHUNK_CHARS)):
            if fail_after is not None and number == fail_after:
                raise error  # type: ignore[misc]
            piece = text[start : start + CHUNK_CHARS]
            frames = np.arange(int(len(piece) * SECONDS_PER_CHAR * RATE))
            wave = 0.4 * np.sin(2 * np.pi * CLOUD_PITCH * frames / RATE)
            spoken = start + len(piece) if self.with_alignment else None
            await asyncio.sleep(0)
            yield AudioChunk((wave * 32767).astype("<i2").tobytes(), RATE, spoken_chars=spoken)


class Events:
    def __init__(self, narrator: Narrator) -> None:
        self.all: list[Event] = []
        narrator.add_listener(self.all.append)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.all if isinstance(e, kind)]


Factory = Callable[[FlakyCloud], Narrator]


@pytest.fixture
def make_narrator() -> Factory:
    def make(cloud: FlakyCloud) -> Narrator:
        registry = ProviderRegistry()
        registry.add(cloud)  # type: ignore[arg-type]
        registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=SECONDS_PER_CHAR))
        return Narrator(
            output=ClockedOutput(sample_rate=RATE, speed=40.0),
            providers=registry,
            default_voice=VoiceRef("cloud", "v"),
            settings=WorkerSettings(
                fallback_voice=VoiceRef("tone", "440"), retry_base_delay=0.01, first_clause_chars=60
            ),
        )

    return make


def played(narrator: Narrator) -> np.ndarray:
    output = narrator._output  # the clocked output records what it played
    assert isinstance(output, ClockedOutput)
    return np.concatenate([u.samples for u in output.utterances])


TEXT = "First sentence is here. Second sentence follows it. Third one ends."


async def test_transient_failure_is_retried(make_narrator: Factory) -> None:
    cloud = FlakyCloud(script=[ServiceError("The service had a hiccup (503).")])
    async with make_narrator(cloud) as narrator:
        events = Events(narrator)
        outcome = await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert isinstance(outcome, RequestFinished)
    (retried,) = events.of(SynthesisRetried)
    assert retried.provider == "cloud" and "503" in retried.reason
    assert narrator.stats().retries == 1
    assert not events.of(ProviderFellBack)
    expected = sum(len(s) for s in TEXT.split(" ")) + TEXT.count(" ") - 2  # spaces between
    assert len(played(narrator)) / RATE == pytest.approx(expected * SECONDS_PER_CHAR, abs=0.02)


async def test_dropped_stream_resumes_at_the_word_not_from_the_start(
    make_narrator: Factory,
) -> None:
    drop = ConnectionLostError("The connection dropped.")
    cloud = FlakyCloud(script=[(2, drop)])  # the first segment drops after 20 characters
    async with make_narrator(cloud) as narrator:
        outcome = await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert isinstance(outcome, RequestFinished)
    first, resumed = cloud.jobs[0], cloud.jobs[1]
    assert first == "First sentence is here."
    # 20 characters were heard: "First sentence is he" — "here." is said again whole.
    assert resumed == "here."
    heard = len(played(narrator)) / RATE
    spoken_chars = 20 + len("here.") + len("Second sentence follows it.") + len("Third one ends.")
    assert heard == pytest.approx(spoken_chars * SECONDS_PER_CHAR, abs=0.02)


async def test_dropped_stream_without_alignment_never_repeats_audio(
    make_narrator: Factory,
) -> None:
    cloud = FlakyCloud(script=[(1, ConnectionLostError("dropped"))], with_alignment=False)
    async with make_narrator(cloud) as narrator:
        outcome = await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert isinstance(outcome, RequestFinished)
    assert cloud.jobs[1] == cloud.jobs[0]  # restarted, but the audio already heard is dropped
    total = sum(len(s) for s in ("First sentence is here.", "Second sentence follows it."))
    total += len("Third one ends.")
    assert len(played(narrator)) / RATE == pytest.approx(total * SECONDS_PER_CHAR, abs=0.02)


async def test_rate_limit_honours_retry_after(make_narrator: Factory) -> None:
    busy = RateLimitedError("The service is busy.", kind="system_busy", retry_after=0.05)
    cloud = FlakyCloud(script=[busy])
    async with make_narrator(cloud) as narrator:
        events = Events(narrator)
        assert isinstance(await narrator.speak(SpeakRequest(text=TEXT)).wait(), RequestFinished)
    (retried,) = events.of(SynthesisRetried)
    assert retried.delay == 0.05


async def test_bad_key_falls_back_to_the_local_voice_and_says_why(make_narrator: Factory) -> None:
    cloud = FlakyCloud(script=[None, AuthenticationError("The ElevenLabs key was refused.")])
    async with make_narrator(cloud) as narrator:
        events = Events(narrator)
        outcome = await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert isinstance(outcome, RequestFinished)
    (fell,) = events.of(ProviderFellBack)
    assert (fell.from_provider, fell.to_provider) == ("cloud", "tone")
    assert "refused" in fell.reason
    stats = narrator.stats()
    assert stats.fallbacks == 1
    assert stats.last_fallback_reason == fell.reason
    audio = played(narrator)
    first_len = int(len("First sentence is here.") * SECONDS_PER_CHAR * RATE)
    assert abs(dominant_frequency(audio[:first_len], RATE) - CLOUD_PITCH) < 15
    assert abs(dominant_frequency(audio[first_len + 500 :], RATE) - 440) < 15
    assert cloud.jobs == ["First sentence is here.", "Second sentence follows it."]


async def test_breaker_sends_later_requests_straight_to_the_fallback(
    make_narrator: Factory,
) -> None:
    down = [ConnectionLostError("offline") for _ in range(4)]
    cloud = FlakyCloud(script=down)
    async with make_narrator(cloud) as narrator:
        events = Events(narrator)
        first = await narrator.speak(SpeakRequest(text="Only one sentence here.")).wait()
        calls = len(cloud.jobs)
        second = await narrator.speak(SpeakRequest(text="Another request now.")).wait()
    assert isinstance(first, RequestFinished) and isinstance(second, RequestFinished)
    assert calls == 3  # three failures in a row open the breaker; the fallback takes over
    assert len(cloud.jobs) == calls  # the open breaker kept the second request off the cloud
    assert len(events.of(ProviderFellBack)) == 2


async def test_permanent_failure_without_fallback_fails_the_request() -> None:
    cloud = FlakyCloud(script=[RequestRejectedError("The text is too long for the model.")])
    registry = ProviderRegistry()
    registry.add(cloud)  # type: ignore[arg-type]
    narrator = Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=40.0),
        providers=registry,
        default_voice=VoiceRef("cloud", "v"),
        settings=WorkerSettings(retry_base_delay=0.01),
    )
    async with narrator:
        outcome = await narrator.speak(SpeakRequest(text="Hello.")).wait()
    assert isinstance(outcome, RequestFailed)
    assert outcome.category is ErrorCategory.CONFIGURATION
    assert "too long" in outcome.reason
