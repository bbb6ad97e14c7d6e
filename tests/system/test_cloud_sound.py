"""The cloud voice end to end: the ElevenLabs fake → the engine as the app builds it → the real
Player → the PulseAudio null sink, recorded.

The narrator comes from ``build_narrator`` and ``default_providers`` with the key in
``ELEVENLABS_API_KEY`` (read through the app's ``ApiKeyHolder``) and the fake as the base URL.
The fake is in tone mode: sentence ``k`` sounds at ``200 + 50·k`` Hz for ``0.03 s`` per
character, so the recording says exactly what was played, in which order, and where it paused.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from voxtray.core.engine import build_narrator, default_providers
from voxtray.core.model import (
    ProviderFellBack,
    RequestFailed,
    RequestFinished,
    SpeakRequest,
    SynthesisRetried,
)
from voxtray.core.narrator import Narrator
from voxtray.core.providers.elevenlabs.provider import Transport
from voxtray.core.settings import Settings

from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import (
    KEY,
    EventLog,
    cloud_settings,
    expected_pitches,
    pitch_runs,
    sentences,
)
from tests.harness.pulse import PulseServer, Recording
from tests.harness.signal import db, gaps, sound_spans

pytestmark = pytest.mark.sound

SPC = 0.03
NUMBERS = (1, 2, 3, 4)
TEXTS = sentences(NUMBERS)
RAMPS = 0.010
"""The fake's tone fades in and out over 5 ms at each end: a join may dip for 10 ms."""


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs, monkeypatch: pytest.MonkeyPatch) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone", tone_seconds_per_char=SPC)
    monkeypatch.setenv("ELEVENLABS_API_KEY", KEY)
    monkeypatch.delenv("VOXTRAY_ELEVENLABS_BASE_URL", raising=False)
    return fake_elevenlabs


async def app_narrator(settings: Settings) -> Narrator:
    """Exactly what the app runs: build_narrator over default_providers (no test doubles)."""
    return build_narrator(settings, providers=default_providers(settings), warm=True)


@pytest.fixture
def speak(pulse: PulseServer) -> object:
    async def run(settings: Settings, text: str) -> tuple[Recording, EventLog, object]:
        narrator = await app_narrator(settings)
        async with narrator:
            log = EventLog(narrator)
            with pulse.recorder() as recorder:
                async with asyncio.timeout(60):
                    outcome = await narrator.speak(SpeakRequest(text=text)).wait()
                await asyncio.sleep(0.3)  # the device's tail after the last callback
        return recorder.result, log, outcome

    return run


def utterance(heard: Recording) -> np.ndarray:
    spans = sound_spans(heard.samples, heard.rate, threshold=db(-30))
    assert spans, "nothing was heard"
    return heard.samples[int(spans[0].start * heard.rate) : int(spans[-1].end * heard.rate)]


@pytest.mark.parametrize("transport", ["http", "websocket", "auto"])
async def test_cloud_speech_plays_in_order_without_gaps(
    fake: FakeElevenLabs, speak: object, transport: Transport
) -> None:
    settings = cloud_settings(fake, transport=transport, fallback=False)
    heard, log, outcome = await speak(settings, " ".join(TEXTS))  # type: ignore[operator]
    assert isinstance(outcome, RequestFinished), outcome
    assert not log.of(SynthesisRetried) and not log.of(ProviderFellBack)
    samples = utterance(heard)

    # Every segment once, in order, each as long as the text it was sent as (the socket
    # protocol ends every text with a space, which the tone counts as a character).
    socket = {"http": 0, "websocket": len(TEXTS), "auto": 1}[transport]
    chars = [len(text) + (i < socket) for i, text in enumerate(TEXTS)]
    runs = pitch_runs(samples, heard.rate, expected_pitches(TEXTS))
    assert [run.pitch for run in runs] == expected_pitches(TEXTS), runs
    for run, count in zip(runs, chars, strict=True):
        assert run.duration == pytest.approx(count * SPC, abs=0.02), (run, count)

    # All of it, and no silence at the joins beyond the tone's own ramps.
    spans = sound_spans(samples, heard.rate, threshold=db(-30))
    assert spans[-1].end - spans[0].start == pytest.approx(sum(chars) * SPC, abs=0.02)
    longest = max((gap.duration for gap in gaps(spans)), default=0.0)
    assert longest <= RAMPS, f"a {longest * 1000:.0f} ms gap inside the speech"

    # Which transport carried it.
    paths = [r.path for r in fake.requests]
    http = sum(p.endswith("/stream/with-timestamps") for p in paths)
    sockets = fake.websocket_contexts
    if transport == "http":
        assert http == len(TEXTS) and not sockets
    elif transport == "websocket":
        assert http == 0 and sum(len(c.contexts) for c in sockets) == len(TEXTS)
    else:  # the first clause over the warm socket, the look-ahead over HTTP
        assert sum(len(c.contexts) for c in sockets) == 1 and http == len(TEXTS) - 1


@pytest.mark.piper
async def test_revoked_key_falls_back_to_the_local_voice(
    fake: FakeElevenLabs, speak: object
) -> None:
    fake.revoke(KEY)
    settings = cloud_settings(fake, transport="auto", fallback=True)
    heard, log, outcome = await speak(settings, " ".join(TEXTS))  # type: ignore[operator]
    assert isinstance(outcome, RequestFinished), outcome
    (fell,) = log.of(ProviderFellBack)
    assert fell.to_provider == "piper" and "key" in fell.reason
    samples = utterance(heard)
    assert len(samples) / heard.rate > 1.0  # the local voice said it
    # ...and no cloud tone got through.
    runs = pitch_runs(samples, heard.rate, expected_pitches(TEXTS), tolerance=3.0, min_run=0.2)
    assert runs == []


async def test_revoked_key_without_fallback_says_why_and_stays_silent(
    fake: FakeElevenLabs, speak: object
) -> None:
    fake.revoke(KEY)
    settings = cloud_settings(fake, transport="auto", fallback=False)
    heard, _, outcome = await speak(settings, " ".join(TEXTS))  # type: ignore[operator]
    assert isinstance(outcome, RequestFailed), outcome
    assert "key" in outcome.reason and KEY not in outcome.reason
    assert not sound_spans(heard.samples, heard.rate, threshold=db(-50))
