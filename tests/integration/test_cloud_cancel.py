"""``stop()`` reaches the service: the cloud stops working (and billing) when the user says stop.

The fake streams at real time (``set_pace(1.0)``), so a segment's request lives as long as its
audio and bills its characters as it goes. After ``narrator.stop()`` every HTTP request still
streaming, or every socket context still open, must be closed by the client within 100 ms on
the fake's clock (``time.monotonic``, the same clock in both threads), and the characters
billed must stop growing.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from voxtray.core.model import RequestCanceled, SpeakRequest
from voxtray.core.providers.elevenlabs.provider import Transport

from tests.fakes.clocked_output import ClockedOutput
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import (
    KEY,
    RATE,
    assert_no_leaks,
    cloud_narrator,
    cloud_settings,
    eventually,
    numbered_text,
    other_tasks,
)

CLOSE_WITHIN = 0.1


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone", tone_seconds_per_char=0.05)
    fake_elevenlabs.faults.set_pace(1.0)
    return fake_elevenlabs


async def speak_then_stop(fake: FakeElevenLabs, transport: Transport) -> tuple[float, int, int]:
    """Speak six sentences and stop once audio flows, then watch the fake while the narrator
    (and its warm connections) stays up: the stop's time and two samples of the billing."""
    tasks_before = other_tasks()
    settings = cloud_settings(fake, transport=transport, fallback=False)
    narrator, _, _ = cloud_narrator(settings, ClockedOutput(sample_rate=RATE, speed=1.0))
    async with narrator:
        handle = narrator.speak(SpeakRequest(text=numbered_text(range(1, 7))))
        assert await eventually(lambda: fake.billed(KEY) > 20), "the cloud never streamed"
        stopped = time.monotonic()
        narrator.stop()
        assert isinstance(await handle.wait(), RequestCanceled)
        assert await eventually(lambda: everything_closed(fake), within=3.0), (
            f"still open 3 s after stop: {fake.requests}, {fake.websocket_contexts}"
        )
        first = fake.billed(KEY)
        await asyncio.sleep(0.2)  # the interval between two samples, not a wait for a condition
        second = fake.billed(KEY)
    await assert_no_leaks(fake, tasks_before)
    return stopped, first, second


def everything_closed(fake: FakeElevenLabs) -> bool:
    http = [r for r in fake.requests if not r.path.endswith("-input")]
    return all(r.ended is not None for r in http) and all(
        c.closed is not None for conn in fake.websocket_contexts for c in conn.contexts.values()
    )


async def test_stop_closes_http_streams_within_100_ms(fake: FakeElevenLabs) -> None:
    stopped, first, second = await speak_then_stop(fake, "http")
    streaming = [
        r
        for r in fake.requests
        if "/stream" in r.path and r.ended is not None and r.ended > stopped
    ]
    assert streaming, "no request was streaming when stop() came"
    assert all(r.closed_by_client for r in streaming), streaming
    late = max(r.ended - stopped for r in streaming if r.ended is not None)
    print(f"stop → last HTTP stream closed: {late * 1000:.1f} ms")
    assert late <= CLOSE_WITHIN
    assert first == second, f"still billing after stop: {first} → {second} characters"


async def test_stop_ends_socket_generations_within_100_ms(fake: FakeElevenLabs) -> None:
    stopped, first, second = await speak_then_stop(fake, "websocket")
    # Every context is closed by the client as soon as its text is sent (so that isFinal
    # follows the audio); what stop() has to end is the generation still streaming, so the
    # time that counts is when the fake finished each context that was live at the stop.
    live = [
        c
        for connection in fake.websocket_contexts
        for c in connection.contexts.values()
        if c.closed is not None and c.closed > stopped
    ]
    assert live, "no context was generating when stop() came"
    late = max(c.closed - stopped for c in live if c.closed is not None)
    print(f"stop → last socket generation ended: {late * 1000:.1f} ms")
    assert late <= CLOSE_WITHIN
    assert first == second, f"still billing after stop: {first} → {second} characters"
