"""``ElevenLabsProvider`` over real sockets against the local fake (``tests/fakes/elevenlabs``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from voxtray.core.errors import (
    AuthenticationError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    VoiceNotFoundError,
)
from voxtray.core.providers.base import Provider, ReportsCounters

from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import (
    KEY,
    RACHEL,
    ProviderFactory,
    collect,
    eventually,
    provider_factory,
    speech_job,
)

ADAM = "pNInz6obpgDQGcFmaJgB"


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone", tone_seconds_per_char=0.02)
    return fake_elevenlabs


@pytest.fixture
async def make(fake: FakeElevenLabs) -> AsyncIterator[ProviderFactory]:
    async with provider_factory(fake) as factory:
        yield factory


job = speech_job


def last_speech_request(fake: FakeElevenLabs) -> Any:
    """The latest text-to-speech request (the quota look-up runs beside the first one)."""
    return [r for r in fake.requests if "/text-to-speech/" in r.path][-1]


def socket_handshakes(fake: FakeElevenLabs) -> int:
    return sum(1 for r in fake.requests if "stream-input" in r.path)


async def test_http_streaming_speech(fake: FakeElevenLabs, make: Any) -> None:
    fake.configure(mode="speech")
    provider = make(transport="http", concurrency_limit=2)
    assert isinstance(provider, Provider) and isinstance(provider, ReportsCounters)
    text = "Hello from the streaming endpoint."
    chunks = await collect(provider, job(text))
    assert len(chunks) > 1 and all(c.sample_rate == 22050 for c in chunks)
    assert sum(c.duration for c in chunks) > 0.5
    spoken = [c.spoken_chars for c in chunks if c.spoken_chars is not None]
    assert spoken == sorted(spoken) and spoken[-1] == len(text)
    assert last_speech_request(fake).path.endswith(f"/{RACHEL}/stream/with-timestamps")
    counters = provider.counters()
    assert counters.requests == 1 and counters.characters_billed == fake.billed(KEY) > 0
    assert len(counters.first_byte_seconds) == 1


async def test_http_without_alignment_streams_raw_pcm(fake: FakeElevenLabs, make: Any) -> None:
    provider = make(transport="http", alignment=False, sample_rate=16000)
    chunks = await collect(provider, job("Raw PCM please."))
    assert chunks and all(c.spoken_chars is None and len(c.pcm) % 2 == 0 for c in chunks)
    assert last_speech_request(fake).path.endswith("/stream")


async def test_warm_session_opens_no_connection_per_utterance(
    fake: FakeElevenLabs, make: Any
) -> None:
    provider = make(transport="websocket")
    await provider.warm()
    opened = provider.counters().connections_opened
    assert opened == 2  # the HTTP pool (the plan lookup) and the socket
    for i in range(3):
        chunks = await collect(provider, job(f"Sentence number {i}.", urgent=True))
        assert chunks and chunks[-1].spoken_chars is not None
    counters = provider.counters()
    assert counters.connections_opened == opened
    assert counters.connections_reused >= 3
    assert socket_handshakes(fake) == 1
    [connection] = fake.websocket_contexts
    assert connection.multi and len(connection.contexts) == 3


async def test_warm_learns_the_plan_limit(fake: FakeElevenLabs, make: Any) -> None:
    fake.add_key("pro-key", tier="pro")
    provider = make(key="pro-key", transport="http")
    assert provider.capabilities.max_concurrency == 4  # the Free figure until the plan is known
    await provider.warm()
    assert provider.capabilities.max_concurrency == 20
    assert make(key="pro-key", concurrency_limit=3).capabilities.max_concurrency == 3


async def test_auto_sends_urgent_jobs_to_the_socket(fake: FakeElevenLabs, make: Any) -> None:
    provider = make()
    await provider.warm()
    http_before = len([r for r in fake.requests if r.path.endswith("with-timestamps")])
    await collect(provider, job("First words now.", urgent=True))
    await collect(provider, job("Look ahead later."))
    http_after = len([r for r in fake.requests if r.path.endswith("with-timestamps")])
    assert http_after == http_before + 1
    assert len(fake.websocket_contexts[0].contexts) == 1


async def test_cancel_http_closes_the_connection(fake: FakeElevenLabs, make: Any) -> None:
    fake.faults.set_chunk_gap(0.1)
    provider = make(transport="http")
    stream = provider.synthesize(job("A fairly long sentence that takes a while to stream out."))
    await anext(stream)
    await stream.aclose()
    assert fake.wait_until(lambda: last_speech_request(fake).closed_by_client, timeout=3)
    assert provider.limiter.in_flight == 0


async def test_cancel_ws_cuts_the_socket_then_warms_a_new_one(
    fake: FakeElevenLabs, make: Any
) -> None:
    """A flush under way cannot be stopped by closing its context (it is billed to the end);
    closing the socket stops it. A fresh socket is opened in the background for what's next."""
    fake.faults.set_chunk_gap(0.1)
    provider = make(transport="websocket")
    stream = provider.synthesize(job("Another long sentence for the socket to stream out."))
    await anext(stream)
    await stream.aclose()
    assert provider.limiter.in_flight == 0

    def cut() -> bool:
        first = fake.websocket_contexts[0]  # a snapshot: read it again each time
        return first.closed is not None and first.closed_by_client

    assert await eventually(cut, within=3.0)  # on the loop: the client closes it there
    fake.faults.set_chunk_gap(0.0)
    assert await collect(provider, job("Still here.", urgent=True))
    assert socket_handshakes(fake) == 2
    assert fake.websocket_contexts[-1].closed is None


async def test_errors_map_to_the_tree(fake: FakeElevenLabs, make: Any) -> None:
    provider = make(transport="http")
    with pytest.raises(VoiceNotFoundError):
        await collect(provider, job("Hello.", voice="no-such-voice"))
    fake.exhaust_quota(KEY)
    with pytest.raises(QuotaExceededError):
        await collect(provider, job("Hello."))
    fake.revoke(KEY)
    with pytest.raises(AuthenticationError) as caught:
        await collect(provider, job("Hello."))
    assert KEY not in str(caught.value)


async def test_2026_error_shape(fake: FakeElevenLabs, make: Any) -> None:
    fake.configure(error_format="current")
    fake.exhaust_quota(KEY)
    with pytest.raises(QuotaExceededError):
        await collect(make(transport="http"), job("Hello."))


async def test_silent_success_on_the_socket_ends_as_the_real_reason(
    fake: FakeElevenLabs, make: Any
) -> None:
    provider = make(transport="websocket")
    await provider.warm()
    fake.exhaust_quota(KEY)
    # The socket answers isFinal with no audio; HTTP then says what it is.
    with pytest.raises(QuotaExceededError):
        await collect(provider, job("Hello.", urgent=True))
    assert provider.fallbacks == 1


async def test_socket_failure_falls_back_to_http(fake: FakeElevenLabs, make: Any) -> None:
    fake.faults.server_error(count=1)  # socket faults are drawn when the socket opens
    provider = make()
    await provider.warm()
    assert await collect(provider, job("Fall back, please.", urgent=True))
    assert provider.fallbacks == 1


async def test_concurrency_429_lowers_the_limit(fake: FakeElevenLabs, make: Any) -> None:
    fake.set_concurrency(KEY, 1)
    fake.faults.set_chunk_gap(0.05)
    provider = make(transport="http", concurrency_limit=4)
    results = await asyncio.gather(
        *(collect(provider, job(f"Segment {i} of the test.", index=i)) for i in range(4)),
        return_exceptions=True,
    )
    limited = [r for r in results if isinstance(r, RateLimitedError)]
    assert limited and all(r.kind == "concurrency" for r in limited)
    assert provider.limiter.limit < 4
    assert provider.counters().rate_limited["concurrency"] == len(limited)
    assert provider.counters().concurrency_limit == provider.limiter.limit


async def test_system_busy_is_counted_not_a_concurrency_cut(
    fake: FakeElevenLabs, make: Any
) -> None:
    fake.faults.busy(code="system_busy", retry_after=1.5)
    provider = make(transport="http", concurrency_limit=4)
    with pytest.raises(RateLimitedError) as caught:
        await collect(provider, job("Busy?"))
    assert caught.value.kind == "system_busy" and caught.value.retry_after == 1.5
    assert provider.limiter.limit == 4


async def test_reconnect_after_an_abnormal_close(fake: FakeElevenLabs, make: Any) -> None:
    fake.faults.drop_after(chunks=1, transport="ws")  # drawn when the socket opens
    provider = make(transport="websocket")
    await provider.warm()
    with pytest.raises(ProviderError):
        await collect(provider, job("This socket will drop mid-sentence.", urgent=True))
    assert await eventually(lambda: provider.counters().connections_opened == 3)
    assert await collect(provider, job("And back again.", urgent=True))
    assert socket_handshakes(fake) == 2


@pytest.mark.parametrize("failure", ["frame", "handshake"])
async def test_no_reconnect_after_a_bad_key(fake: FakeElevenLabs, make: Any, failure: str) -> None:
    fake.configure(ws_auth_failure=failure)
    provider = make(key="wrong-key", transport="websocket")
    with pytest.raises(AuthenticationError):
        await provider.warm()
    for _ in range(3):
        with pytest.raises(AuthenticationError) as caught:
            await collect(provider, job("Hello.", urgent=True))
        assert "wrong-key" not in str(caught.value)
    await asyncio.sleep(0.3)
    assert socket_handshakes(fake) == 1


async def test_voices_are_cached(fake: FakeElevenLabs, make: Any) -> None:
    provider = make()
    voices = await provider.voices()
    assert {v.id for v in voices} >= {RACHEL, ADAM}
    count = len(fake.requests)
    assert await provider.voices() == voices
    assert len(fake.requests) == count
    await provider.voices(refresh=True)
    assert len(fake.requests) == count + 1
    subscription = await provider.subscription()
    assert subscription.tier == "free" and subscription.character_limit == 10_000
    user = await provider.user()
    assert user.subscription is not None and user.subscription.tier == "free"


async def test_aclose_leaves_nothing_behind(fake: FakeElevenLabs, make: Any) -> None:
    before = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    provider = make()
    await provider.warm()
    await collect(provider, job("Bye.", urgent=True))
    await provider.aclose()
    await provider.aclose()
    after = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    assert after <= before
    assert fake.wait_until(lambda: fake.websocket_contexts[0].closed is not None, timeout=3)
