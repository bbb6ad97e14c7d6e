"""The fault matrix: every failure the ElevenLabs fake can inject, through the whole engine.

Each case speaks four numbered sentences with the cloud voice (tone mode: sentence ``k`` sounds
at ``200 + 50·k`` Hz) on the clocked in-memory output, and checks the three things a listener
and the lead care about:

* **the outcome**: spoken (after a retry, a switch of transport, or a fallback to the local
  voice, each with its event and a reason a user can read) or a clear ``RequestFailed``;
* **the recording holds every segment exactly once, in order**: read as runs of pitches, the
  recording is exactly the sentences' pitches in order (the local voice, a 150 Hz stand-in,
  takes over as one run where a fallback happens). A segment whose stream dropped mid-way is
  resumed at the first word not yet heard, so it is still *one* run, possibly split around the
  drop point by a join no longer than the tone's ramps, and its length is the sentence's
  length plus at most the one word that was cut and said again whole: nothing skipped, nothing
  but that word repeated;
* **nothing leaks**: the event loop's tasks are back to the baseline, no TCP connection to the
  fake is left on either side, and the fake saw every request and socket end.

One case runs through the real player and the PulseAudio null sink.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pytest
from voxtray.core.audio.output import AudioOutput
from voxtray.core.errors import ErrorCategory
from voxtray.core.model import (
    Event,
    ProviderFellBack,
    RequestFailed,
    RequestFinished,
    SpeakRequest,
    SynthesisRetried,
    TerminalEvent,
)
from voxtray.core.providers.base import ProviderCounters
from voxtray.core.providers.elevenlabs.provider import Transport
from voxtray.core.text.segment import segment_text

from tests.fakes.clocked_output import ClockedOutput
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import (
    KEY,
    LOCAL_PITCH,
    RATE,
    EventLog,
    PitchRun,
    assert_no_leaks,
    cloud_narrator,
    cloud_settings,
    expected_pitches,
    other_tasks,
    pitch_runs,
    sentences,
)

SPC = 0.02
"""Tone seconds per character: a 25-character sentence lasts 0.5 s (five 0.1 s chunks)."""
NUMBERS = (1, 2, 3, 4)
TEXTS = sentences(NUMBERS)
LONGEST_WORD = max(len(word) for text in TEXTS for word in text.split())
CANDIDATES = [*expected_pitches(TEXTS), LOCAL_PITCH]
JOIN = 0.03
"""Tolerance on a run's length: the analysis frames' edges at both ends of a run."""

_E = TypeVar("_E")


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone", tone_seconds_per_char=SPC)
    return fake_elevenlabs


@dataclass
class Spoken:
    outcome: TerminalEvent
    events: list[Event]
    runs: list[PitchRun]
    counters: ProviderCounters
    local_jobs: list[str]
    transport_fallbacks: int
    samples: np.ndarray = field(repr=False)

    def of(self, kind: type[_E]) -> list[_E]:
        return [e for e in self.events if isinstance(e, kind)]


async def speak_through(
    fake: FakeElevenLabs,
    *,
    transport: Transport,
    fallback: bool = True,
    arm: Callable[[], None] = lambda: None,
    output: AudioOutput | None = None,
    concurrency: int = 0,
    fake_url: FakeElevenLabs | None = None,
) -> Spoken:
    """Speak :data:`TEXTS` with the cloud voice after ``arm()``; check nothing leaked."""
    tasks_before = other_tasks()
    server = fake_url or fake
    settings = cloud_settings(
        server, transport=transport, fallback=fallback, concurrency=concurrency
    )
    clocked = output or ClockedOutput(sample_rate=RATE, speed=40.0)
    narrator, provider, local = cloud_narrator(
        settings, clocked, seconds_per_char=SPC, stall_timeout=1.0
    )
    async with narrator:
        log = EventLog(narrator)
        arm()
        handle = narrator.speak(SpeakRequest(text=" ".join(TEXTS)))
        async with asyncio.timeout(30):
            outcome = await handle.wait()
        counters = provider.counters()
        transport_fallbacks = provider.fallbacks
    await assert_no_leaks(server, tasks_before)
    samples = played(clocked) if isinstance(clocked, ClockedOutput) else np.zeros(0, np.float32)
    runs = pitch_runs(samples, RATE, CANDIDATES)
    return Spoken(outcome, log.all, runs, counters, local.jobs, transport_fallbacks, samples)


def played(output: ClockedOutput) -> np.ndarray:
    parts = [u.samples for u in output.utterances]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def plain(reason: str) -> bool:
    """A sentence for a person: a capital, a full stop, no exception name, traceback or key."""
    return (
        re.match(r"[A-Z][^\n]*?\.(\s|$)", reason) is not None
        and "Error" not in reason
        and "Traceback" not in reason
        and KEY not in reason
    )


def assert_each_segment_once(spoken: Spoken, *, resumed: bool = False) -> None:
    """Every sentence's pitch once, in order; lengths as defined in the module docstring."""
    pitches = [run.pitch for run in spoken.runs]
    assert pitches == expected_pitches(TEXTS), spoken.runs
    for run, text in zip(spoken.runs, TEXTS, strict=True):
        full = len(text) * SPC
        most = full + (LONGEST_WORD * SPC if resumed else 0.0)
        assert full - JOIN <= run.duration <= most + JOIN, (run, text)


def assert_spoken_once_by_cloud(spoken: Spoken, *, resumed: bool = False) -> None:
    assert isinstance(spoken.outcome, RequestFinished), spoken.outcome
    assert not spoken.of(ProviderFellBack)
    assert not spoken.local_jobs
    assert_each_segment_once(spoken, resumed=resumed)
    for retried in spoken.of(SynthesisRetried):
        assert retried.provider == "elevenlabs" and plain(retried.reason), retried


def test_the_text_segments_into_its_sentences() -> None:
    segments = segment_text([" ".join(TEXTS)], max_chars=5000, first_clause_chars=60)
    assert [s.text for s in segments] == TEXTS


# -- transient faults: retried (or served by the other transport), spoken by the cloud -----------


@pytest.mark.parametrize("transport", ["http", "websocket"])
async def test_drop_mid_stream_resumes_at_the_first_unheard_word(
    fake: FakeElevenLabs, transport: Transport
) -> None:
    wire = "http" if transport == "http" else "ws"
    spoken = await speak_through(
        fake, transport=transport, arm=lambda: fake.faults.drop_after(chunks=2, transport=wire)
    )
    assert_spoken_once_by_cloud(spoken, resumed=True)
    # Retried by the scheduler (resuming after the audio heard), or, when the drop came before
    # any audio of a segment reached the client, sent again over the other transport.
    retried = spoken.of(SynthesisRetried)
    assert retried or spoken.transport_fallbacks, "the drop was noticed"
    assert all("dropped" in r.reason or "closed" in r.reason for r in retried), retried


@pytest.mark.parametrize("transport", ["http", "websocket"])
async def test_stall_is_given_up_on_and_resumed(fake: FakeElevenLabs, transport: Transport) -> None:
    wire = "http" if transport == "http" else "ws"
    spoken = await speak_through(
        fake, transport=transport, arm=lambda: fake.faults.stall(after_chunks=1, transport=wire)
    )
    assert_spoken_once_by_cloud(spoken, resumed=True)
    assert spoken.of(SynthesisRetried)


async def test_5xx_is_retried(fake: FakeElevenLabs) -> None:
    spoken = await speak_through(
        fake, transport="http", arm=lambda: fake.faults.server_error(status=503)
    )
    assert_spoken_once_by_cloud(spoken)
    (retried,) = spoken.of(SynthesisRetried)
    assert retried.attempt == 1


async def test_server_error_on_the_socket_goes_over_http(fake: FakeElevenLabs) -> None:
    spoken = await speak_through(
        fake, transport="websocket", arm=lambda: fake.faults.server_error(status=500)
    )
    assert_spoken_once_by_cloud(spoken)
    assert not spoken.of(SynthesisRetried)  # the provider itself switched transport
    assert any(r.path.endswith("/with-timestamps") for r in fake.requests)


@pytest.mark.parametrize("retry_after", [0.2, None], ids=["retry-after", "no-retry-after"])
async def test_system_busy_is_retried_after_the_servers_delay(
    fake: FakeElevenLabs, retry_after: float | None
) -> None:
    spoken = await speak_through(
        fake,
        transport="http",
        arm=lambda: fake.faults.busy(code="system_busy", retry_after=retry_after),
    )
    assert_spoken_once_by_cloud(spoken)
    (retried,) = spoken.of(SynthesisRetried)
    if retry_after is not None:
        assert retried.delay == retry_after
    else:
        assert 0 < retried.delay <= 0.02  # the first backoff step (base 0.02 s here)
    assert spoken.counters.rate_limited == {"system_busy": 1}
    assert spoken.counters.concurrency_limit == 4  # busy is not a reason to cut the limit


async def test_concurrency_429_is_retried_and_lowers_the_limit(fake: FakeElevenLabs) -> None:
    def arm() -> None:  # the client believes it may send 4 at once; the key allows 1
        fake.set_concurrency(KEY, 1)
        fake.faults.set_chunk_gap(0.03)  # each reply lasts ~0.15 s, so the requests overlap

    spoken = await speak_through(fake, transport="http", concurrency=4, arm=arm)
    assert_spoken_once_by_cloud(spoken)
    assert spoken.counters.rate_limited.get("concurrency", 0) >= 1
    assert spoken.counters.concurrency_limit < 4
    assert all("at once" in r.reason for r in spoken.of(SynthesisRetried))
    assert fake.max_in_flight(KEY) == 1


@pytest.mark.parametrize("transport", ["http", "websocket"])
async def test_malformed_frame_is_retried(fake: FakeElevenLabs, transport: Transport) -> None:
    wire = "http" if transport == "http" else "ws"
    spoken = await speak_through(
        fake, transport=transport, arm=lambda: fake.faults.malformed(after_chunks=1, transport=wire)
    )
    assert_spoken_once_by_cloud(spoken, resumed=True)
    assert spoken.of(SynthesisRetried)


async def test_silent_success_on_the_socket_is_not_taken_for_speech(
    fake: FakeElevenLabs,
) -> None:
    spoken = await speak_through(
        fake, transport="websocket", arm=lambda: fake.faults.silent_success()
    )
    assert_spoken_once_by_cloud(spoken)


# -- permanent faults: the local voice takes over (with a reason), or a clear failure ------------


def arm_quota(fake: FakeElevenLabs) -> Callable[[], None]:
    return lambda: fake.exhaust_quota(KEY)


def arm_revoked(fake: FakeElevenLabs) -> Callable[[], None]:
    return lambda: fake.revoke(KEY)


PERMANENT = {
    "quota": (arm_quota, ErrorCategory.QUOTA, ("quota", "characters", "credits")),
    "revoked": (arm_revoked, ErrorCategory.AUTHENTICATION, ("key",)),
}


@pytest.mark.parametrize("transport", ["http", "websocket"])
@pytest.mark.parametrize("fault", sorted(PERMANENT))
async def test_permanent_fault_falls_back_to_the_local_voice(
    fake: FakeElevenLabs, fault: str, transport: Transport
) -> None:
    arm, _, words = PERMANENT[fault]
    spoken = await speak_through(fake, transport=transport, arm=arm(fake))
    assert isinstance(spoken.outcome, RequestFinished), spoken.outcome
    (fell,) = spoken.of(ProviderFellBack)
    assert (fell.from_provider, fell.to_provider) == ("elevenlabs", "piper")
    assert plain(fell.reason) and any(w in fell.reason.lower() for w in words), fell.reason
    assert not spoken.of(SynthesisRetried)  # retrying cannot help: none was tried
    # The local voice said all of it, once.
    assert sorted(spoken.local_jobs) == TEXTS  # each once (synthesized concurrently)
    assert [run.pitch for run in spoken.runs] == [LOCAL_PITCH]
    (run,) = spoken.runs
    assert run.duration == pytest.approx(sum(len(t) for t in TEXTS) * SPC, abs=JOIN)


@pytest.mark.parametrize("transport", ["http", "websocket"])
@pytest.mark.parametrize("fault", sorted(PERMANENT))
async def test_permanent_fault_without_fallback_fails_clearly(
    fake: FakeElevenLabs, fault: str, transport: Transport
) -> None:
    arm, category, words = PERMANENT[fault]
    spoken = await speak_through(fake, transport=transport, fallback=False, arm=arm(fake))
    assert isinstance(spoken.outcome, RequestFailed), spoken.outcome
    assert spoken.outcome.category is category
    reason = spoken.outcome.reason
    assert plain(reason) and any(w in reason.lower() for w in words), reason
    assert not spoken.of(SynthesisRetried) and not spoken.of(ProviderFellBack)
    assert spoken.runs == []  # nothing half-said


# -- offline ---------------------------------------------------------------------------------


@pytest.fixture
def stopped_fake() -> FakeElevenLabs:
    """A fake of its own that has been stopped: its port refuses connections."""
    server = FakeElevenLabs(mode="tone")
    server.start()
    server.stop()
    return server


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
async def test_offline(fake: FakeElevenLabs, stopped_fake: FakeElevenLabs, fallback: bool) -> None:
    spoken = await speak_through(fake, transport="auto", fallback=fallback, fake_url=stopped_fake)
    retried = spoken.of(SynthesisRetried)
    assert retried and all(plain(r.reason) for r in retried)
    if fallback:
        assert isinstance(spoken.outcome, RequestFinished), spoken.outcome
        (fell,) = spoken.of(ProviderFellBack)
        assert plain(fell.reason)
        assert [run.pitch for run in spoken.runs] == [LOCAL_PITCH]
        assert sorted(spoken.local_jobs) == TEXTS  # each once (synthesized concurrently)
    else:
        assert isinstance(spoken.outcome, RequestFailed), spoken.outcome
        assert spoken.outcome.category is ErrorCategory.TRANSIENT
        assert plain(spoken.outcome.reason)
        assert spoken.runs == []
