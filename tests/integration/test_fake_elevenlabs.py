"""The ElevenLabs fake, checked over real sockets with plain httpx and websockets clients.

One test group per behaviour of elevenlabs-api.md §8, plus the command-line entry point. Tone mode
is used except where real speech is the point (it is fast and its audio is exactly predictable).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.fakes.elevenlabs import FakeElevenLabs, tone_pitch

KEY = "test-key"
RACHEL = "21m00Tcm4TlvDq8ikWAM"
FLASH = "eleven_flash_v2_5"
MULTI = "eleven_multilingual_v2"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone")
    return fake_elevenlabs


@pytest.fixture
async def http(fake: FakeElevenLabs) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=fake.base_url, headers={"xi-api-key": KEY}, timeout=10
    ) as client:
        yield client


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def tts_path(voice: str = RACHEL, variant: str = "/stream") -> str:
    return f"/v1/text-to-speech/{voice}{variant}"


def ws_url(fake: FakeElevenLabs, multi: bool = False, **query: str) -> str:
    params = {"model_id": FLASH, "output_format": "pcm_16000", **query}
    endpoint = "multi-stream-input" if multi else "stream-input"
    qs = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{fake.ws_base_url}/v1/text-to-speech/{RACHEL}/{endpoint}?{qs}"


def connect(url: str, key: str | None = KEY) -> Any:
    headers = {"xi-api-key": key} if key else None
    return websockets.connect(url, additional_headers=headers, open_timeout=5)


async def frames(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every frame until the socket closes, whatever the close code."""
    received = []
    try:
        while True:
            received.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    except websockets.ConnectionClosed:
        return received


def dominant_hz(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


# -- 1. authentication and error envelopes ----------------------------------------------------


async def test_rest_auth_and_both_error_shapes(fake: FakeElevenLabs, http: httpx.AsyncClient):
    body = {"text": "Hi", "model_id": FLASH}
    missing = await http.post(tts_path(), json=body, headers={"xi-api-key": ""})
    assert missing.status_code == 401
    assert missing.json()["detail"]["status"] == "needs_authorization"

    bad = await http.post(tts_path(), json=body, headers={"xi-api-key": "wrong"})
    assert bad.status_code == 401
    assert bad.json() == {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}

    fake.configure(error_format="2026")
    modern = (await http.get("/v1/voices", headers={"xi-api-key": "wrong"})).json()["detail"]
    assert modern["type"] == "authentication_error"
    assert modern["status"] == "invalid_api_key"
    assert modern["code"] and modern["request_id"] and modern["message"]

    fake.add_key("other")
    fake.revoke("other")
    assert (await http.get("/v1/user", headers={"xi-api-key": "other"})).status_code == 401
    assert all("other" not in r.key_fingerprint[4:] for r in fake.requests)
    assert all(KEY not in r.key_fingerprint for r in fake.requests)


async def test_validation_limits_voice_and_quota(fake: FakeElevenLabs, http: httpx.AsyncClient):
    no_text = await http.post(tts_path(), json={"model_id": FLASH})
    assert no_text.status_code == 422
    (issue,) = no_text.json()["detail"]
    assert issue["loc"] == ["body", "text"] and issue["type"] == "missing"

    unstable = await http.post(
        tts_path(), json={"text": "Hi", "voice_settings": {"stability": 1.5}}
    )
    assert unstable.status_code == 422
    assert unstable.json()["detail"][0]["loc"] == ["body", "voice_settings", "stability"]

    for model, limit in ((FLASH, 40_000), (MULTI, 10_000), ("eleven_v3", 3_000)):
        over = await http.post(
            tts_path(),
            params={"output_format": "pcm_16000"},
            json={"text": "a" * (limit + 1), "model_id": model},
        )
        assert over.status_code == 400
        detail = over.json()["detail"]
        assert detail["status"] == "max_character_limit_exceeded"
        assert f"{limit + 1} characters" in detail["message"] and str(limit) in detail["message"]

    params = {"output_format": "pcm_16000"}
    unknown = await http.post(tts_path("nope"), params=params, json={"text": "Hi"})
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["status"] == "voice_not_found"
    fake.configure(voice_not_found_status=400)
    assert (
        await http.post(tts_path("nope"), params=params, json={"text": "Hi"})
    ).status_code == 400

    fake.add_key("poor", character_limit=5)
    poor = await http.post(
        tts_path(), params=params, json={"text": "Hello"}, headers={"xi-api-key": "poor"}
    )
    assert poor.status_code == 200
    broke = await http.post(
        tts_path(), params=params, json={"text": "Hello"}, headers={"xi-api-key": "poor"}
    )
    assert broke.status_code == 401
    assert broke.json()["detail"]["status"] == "quota_exceeded"
    assert "You have 0 credits remaining, while 5 credits are required" in broke.text


async def test_websocket_auth_alternatives(fake: FakeElevenLabs):
    async def speak(ws: ClientConnection, init: dict[str, Any]) -> list[dict[str, Any]]:
        await ws.send(json.dumps({"text": " ", **init}))
        await ws.send(json.dumps({"text": "Hi there ", "flush": True}))
        await ws.send(json.dumps({"text": ""}))
        return await frames(ws)

    async with connect(ws_url(fake, authorization=f"Bearer%20{KEY}"), key=None) as ws:
        assert (await speak(ws, {}))[-1] == {"isFinal": True}
    for field in ("xi_api_key", "xi-api-key"):
        async with connect(ws_url(fake), key=None) as ws:
            assert (await speak(ws, {field: KEY}))[-1] == {"isFinal": True}
            assert ws.close_code == 1000

    async with connect(ws_url(fake), key="wrong") as ws:
        (error,) = await frames(ws)
        assert error["error"] == "invalid_api_key" and error["code"] == 1008
    assert ws.close_code == 1008

    fake.configure(ws_auth_failure="handshake")
    with pytest.raises(websockets.InvalidStatus) as rejected:
        async with connect(ws_url(fake), key="wrong"):
            pass
    assert rejected.value.response.status_code == 401


# -- 2. progressive chunked /stream -----------------------------------------------------------


async def test_stream_is_progressive_pcm_with_headers(
    fake: FakeElevenLabs, http: httpx.AsyncClient
):
    text = "Segment 3 is ten"  # 16 characters: 0.8 s of tone
    fake.faults.set_latency(0.2)
    fake.faults.set_chunk_gap(0.05)
    started = time.monotonic()
    arrivals: list[float] = []
    body = b""
    async with http.stream(
        "POST",
        tts_path(),
        params={"output_format": "pcm_22050"},
        json={"text": text, "model_id": FLASH},
    ) as response:
        assert response.status_code == 200
        headers = response.headers
        async for piece in response.aiter_raw():
            arrivals.append(time.monotonic() - started)
            body += piece
    assert headers["content-type"] == "audio/pcm"
    assert headers["character-cost"] == str(len(text))
    assert headers["current-concurrent-requests"] == "1"
    assert headers["maximum-concurrent-requests"] == "4"
    assert headers["request-id"] and headers["x-trace-id"]
    assert len(body) == round(len(text) * 0.05 * 22050) * 2  # bytes = seconds × rate × 2
    assert arrivals[0] >= 0.2  # the configured time to first byte
    assert arrivals[-1] - arrivals[0] >= 0.05 * 6  # the body came in pieces, over time
    assert abs(dominant_hz(body, 22050) - tone_pitch(text)) < 5

    whole = await http.post(
        tts_path(variant=""),
        params={"output_format": "pcm_22050"},
        json={"text": text, "model_id": FLASH},
    )
    assert whole.content == body
    assert fake.billed(KEY) == 2 * len(text)


@pytest.mark.piper
async def test_speech_mode_speaks(fake: FakeElevenLabs, http: httpx.AsyncClient):
    fake.configure(mode="speech")
    text = "Hello there. This is the fake speaking."
    response = await http.post(
        tts_path(), params={"output_format": "pcm_24000"}, json={"text": text, "model_id": FLASH}
    )
    assert response.status_code == 200
    audio = np.frombuffer(response.content, "<i2").astype(np.float32) / 32768
    seconds = len(audio) / 24000
    assert 0.03 < seconds / len(text) < 0.15
    assert float(np.sqrt(np.mean(audio**2))) > 0.03


async def test_unsupported_output_format_is_a_400(http: httpx.AsyncClient):
    response = await http.post(tts_path(), json={"text": "Hi"})  # default mp3_44100_128
    assert response.status_code == 400
    assert response.json()["detail"]["status"] == "invalid_output_format"


# -- 3. NDJSON with timestamps ----------------------------------------------------------------


async def test_stream_with_timestamps(fake: FakeElevenLabs, http: httpx.AsyncClient):
    text = "Line 2, with timing."
    fake.faults.null_alignment(every=3)
    async with http.stream(
        "POST",
        tts_path(variant="/stream/with-timestamps"),
        params={"output_format": "pcm_16000"},
        json={"text": text, "model_id": FLASH},
    ) as response:
        lines = [json.loads(line) async for line in response.aiter_lines() if line]
    chars: list[str] = []
    starts: list[float] = []
    nulls = 0
    audio = b""
    for line in lines:
        audio += base64.b64decode(line["audio_base64"])
        if line["alignment"] is None:
            assert line["normalized_alignment"] is None
            nulls += 1
            continue
        a = line["alignment"]
        n = len(a["characters"])
        assert len(a["character_start_times_seconds"]) == n == len(a["character_end_times_seconds"])
        assert all(
            e > s
            for s, e in zip(
                a["character_start_times_seconds"], a["character_end_times_seconds"], strict=True
            )
        )
        chars += a["characters"]
        starts += a["character_start_times_seconds"]
    assert nulls == len(lines) // 3 > 0
    assert all(b > a for a, b in itertools.pairwise(starts))  # strictly increasing
    assert starts[-1] > 0.5  # seconds from the start of the request, not of each chunk
    assert len(audio) == round(len(text) * 0.05 * 16000) * 2

    fake.faults.null_alignment(every=0)
    whole = (
        await http.post(
            tts_path(variant="/with-timestamps"),
            params={"output_format": "pcm_16000"},
            json={"text": text},
        )
    ).json()
    assert "".join(whole["alignment"]["characters"]) == text
    assert base64.b64decode(whole["audio_base64"]) == audio


# -- 4. concurrency per key, both kinds of 429 ------------------------------------------------


async def test_concurrency_limit_and_429s(fake: FakeElevenLabs, http: httpx.AsyncClient):
    fake.faults.stall(count=2)
    params = {"output_format": "pcm_16000"}
    body = {"text": "Long one", "model_id": MULTI}  # Free tier: 2 for multilingual v2
    async with (
        http.stream("POST", tts_path(), params=params, json=body) as one,
        http.stream("POST", tts_path(), params=params, json=body) as two,
    ):
        if True:  # keeps the block below in the scope of both streams
            assert one.status_code == two.status_code == 200
            assert fake.in_flight(KEY) == 2
            third = await http.post(tts_path(), params=params, json=body)
            assert third.status_code == 429
            detail = third.json()["detail"]
            assert detail["status"] == "too_many_concurrent_requests"
            assert "maximum of 2 concurrent requests (running in parallel)" in detail["message"]
            assert "retry-after" not in third.headers
            fake.configure(error_format="2026", concurrency_retry_after=2)
            modern = await http.post(tts_path(), params=params, json=body)
            assert modern.json()["detail"]["code"] == "concurrent_limit_exceeded"
            assert modern.headers["retry-after"] == "2"
            # flash/turbo count in their own group (limit 4)
            flash = await http.post(tts_path(), params=params, json={**body, "model_id": FLASH})
            assert flash.status_code == 200
    await until(lambda: fake.in_flight(KEY) == 0)
    assert fake.max_in_flight(KEY) == 3
    assert [r.closed_by_client for r in fake.requests[:2]] == [True, True]

    fake.configure(error_format="legacy")
    fake.faults.busy(count=1, retry_after=1.5)
    busy = await http.post(tts_path(), params=params, json=body)
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1.5"
    assert busy.json()["detail"]["status"] == "system_busy"
    fake.faults.busy(count=1, code="rate_limit_exceeded")
    limited = await http.post(tts_path(), params=params, json=body)
    assert limited.json()["detail"]["status"] == "rate_limit_exceeded"
    fake.faults.server_error(count=2, status=503)
    statuses = [(await http.post(tts_path(), params=params, json=body)).status_code for _ in "abc"]
    assert statuses == [503, 503, 200]


# -- 5. stream-input protocol and buffering ---------------------------------------------------


async def test_stream_input_buffers_by_schedule(fake: FakeElevenLabs):
    async with connect(ws_url(fake)) as ws:
        await ws.send(
            json.dumps(
                {
                    "text": " ",
                    "voice_settings": {"stability": 0.5, "similarity_boost": 0.8},
                    "generation_config": {"chunk_length_schedule": [60]},
                }
            )
        )
        await ws.send(json.dumps({"text": "Number 4 waits in the buffer "}))  # 29 characters
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)  # below the schedule: no audio
        await ws.send(json.dumps({"text": "until enough text has arrived to pass sixty. "}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["isFinal"] is None and first["audio"]
        alignment = first["alignment"]
        assert set(alignment) == {"chars", "charStartTimesMs", "charDurationsMs"}
        assert alignment["charStartTimesMs"][0] == 0  # relative to the chunk
        await ws.send(json.dumps({"text": ""}))
        rest = await frames(ws)
    assert rest[-1] == {"isFinal": True}
    assert ws.close_code == 1000
    audio = b"".join(base64.b64decode(f["audio"]) for f in [first, *rest[:-1]])
    assert abs(dominant_hz(audio, 16000) - tone_pitch("4")) < 5


async def test_stream_input_auto_mode_and_eos_rules(fake: FakeElevenLabs):
    fake.faults.stall(after_chunks=1)  # the finish never completes, so the race is decided
    async with connect(ws_url(fake, auto_mode="true")) as ws:
        await ws.send(json.dumps({"text": " "}))
        await ws.send(json.dumps({"text": "Short. "}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["audio"]  # no buffering
        await ws.send(json.dumps({"text": ""}))
        await ws.send(json.dumps({"text": "too late "}))
        received = await frames(ws)
    assert received[-1]["error"] == "invalid_input_message"
    assert ws.close_code == 1008

    async with connect(ws_url(fake)) as ws:
        await ws.send(json.dumps({"text": "Hello without init "}))
        (error,) = await frames(ws)
    assert error["code"] == 1008 and ws.close_code == 1008


# -- 6. inactivity timeout and keep-alive -----------------------------------------------------


async def test_inactivity_timeout_and_keepalive(fake: FakeElevenLabs):
    fake.configure(inactivity_time_scale=0.02)  # 20 s → 0.4 s
    async with connect(ws_url(fake)) as ws:
        await ws.send(json.dumps({"text": " "}))
        for _ in range(4):  # 0.6 s of " " keep-alives every 0.15 s keep it open
            await asyncio.sleep(0.15)
            await ws.send(json.dumps({"text": " "}))
        opened = time.monotonic()
        assert await frames(ws) == []
        waited = time.monotonic() - opened
    assert ws.close_code == 1008
    assert ws.close_reason.startswith(
        "Have not received a new text input within the timeout of 20 seconds."
    )
    assert 0.3 < waited < 2.0

    async with connect(ws_url(fake, inactivity_timeout="5")) as ws:  # 0.1 s
        assert await frames(ws) == []
    assert "timeout of 5 seconds" in (ws.close_reason or "")

    with pytest.raises(websockets.InvalidStatus):
        async with connect(ws_url(fake, inactivity_timeout="181")):
            pass


# -- 7. protocol violations -------------------------------------------------------------------


async def test_protocol_violations_close_1008(fake: FakeElevenLabs):
    async with connect(ws_url(fake)) as ws:
        await ws.send(json.dumps({"text": " "}))
        await ws.send("{not json")
        (error,) = await frames(ws)
    assert error == {
        "message": "Could not parse input message, make sure it is a json and follows the schema"
        " outlined in protocol.",
        "error": "invalid_input_message",
        "code": 1008,
    }
    assert ws.close_code == 1008

    async with connect(ws_url(fake, multi=True)) as ws:
        await ws.send(json.dumps({"text": "", "context_id": "c1"}))  # keep-alive before init
        await ws.send(json.dumps({"text": " ", "context_id": "c1", "voice_settings": {}}))
        (error,) = await frames(ws)
    assert error["code"] == 1008 and ws.close_code == 1008


# -- 8. multi-context -------------------------------------------------------------------------


async def test_multi_context_semantics(fake: FakeElevenLabs):
    fake.configure(context_close_delay=0.1)
    async with connect(ws_url(fake, multi=True)) as ws:
        await ws.send(json.dumps({"text": " ", "context_id": "c1", "voice_settings": {}}))
        await ws.send(json.dumps({"text": "Context 1 speaks ", "context_id": "c1"}))
        await ws.send(json.dumps({"text": "Context 2 too ", "context_id": "c2"}))
        await ws.send(json.dumps({"text": "", "context_id": "c2"}))  # keep-alive, not an end
        await ws.send(json.dumps({"context_id": "c1", "flush": True}))
        c1 = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        assert {f["contextId"] for f in c1} == {"c1"} and all(f["audio"] for f in c1)
        await ws.send(json.dumps({"context_id": "c3", "flush": True}))  # implicit creation
        await until(lambda: "c3" in fake.websocket_contexts[-1].contexts)
        sent_close = time.monotonic()
        await ws.send(json.dumps({"context_id": "c1", "close_context": True}))
        while (frame := json.loads(await asyncio.wait_for(ws.recv(), 5))).get("isFinal") is None:
            assert frame["contextId"] == "c1"
        assert frame == {"isFinal": True, "contextId": "c1"}
        assert time.monotonic() - sent_close >= 0.1  # closed asynchronously, after a delay
        await ws.send(json.dumps({"close_socket": True}))
        rest = await frames(ws)
    assert ws.close_code == 1000  # the server closed after finishing every context
    finals = [f["contextId"] for f in rest if f.get("isFinal")]
    assert sorted(finals) == ["c2", "c3"]
    c2_audio = b"".join(base64.b64decode(f["audio"]) for f in rest if f.get("audio"))
    assert abs(dominant_hz(c2_audio, 16000) - tone_pitch("2")) < 5
    record = fake.websocket_contexts[-1]
    assert {c.state for c in record.contexts.values()} == {"closed"}
    assert record.close_code == 1000 and not record.closed_by_client


async def test_multi_context_reply_spellings(fake: FakeElevenLabs):
    fake.configure(
        context_id_key="context_id", final_key="is_final", durations_key="charsDurationsMs"
    )
    async with connect(ws_url(fake, multi=True)) as ws:
        await ws.send(json.dumps({"text": "Hi ", "context_id": "a", "flush": True}))
        audio = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(json.dumps({"context_id": "a", "close_context": True}))
        while "is_final" not in (final := json.loads(await asyncio.wait_for(ws.recv(), 5))):
            pass
    assert audio["context_id"] == "a" and "charsDurationsMs" in audio["alignment"]
    assert final == {"is_final": True, "context_id": "a"}


# -- 9. the 5-context cap ---------------------------------------------------------------------


async def test_five_context_cap_counts_closing_contexts(fake: FakeElevenLabs):
    fake.configure(context_close_delay=1.0)
    async with connect(ws_url(fake, multi=True)) as ws:
        for n in range(5):
            await ws.send(json.dumps({"text": " ", "context_id": f"c{n}"}))
        await ws.send(json.dumps({"context_id": "c0", "close_context": True}))  # still closing
        await ws.send(json.dumps({"text": " ", "context_id": "c5"}))
        received = await frames(ws)
    assert received[-1] == {
        "message": "Maximum simultaneous contexts per WebSocket connection exceeded (5). Please"
        " close an existing context before opening a new one.",
        "error": "max_active_conversations",
        "code": 1008,
    }
    assert ws.close_code == 1008


# -- 10. failures in the middle of a stream, billing and account endpoints -------------------


async def test_http_drop_stall_and_garbage_line(fake: FakeElevenLabs, http: httpx.AsyncClient):
    params = {"output_format": "pcm_16000"}
    body = {"text": "A drop in the middle", "model_id": FLASH}
    fake.faults.drop_after(bytes=5000, transport="http")
    received: list[bytes] = []

    async def read_all(limits: httpx.Timeout | None = None) -> None:
        request = http.build_request("POST", tts_path(), params=params, json=body)
        if limits is not None:
            request.extensions["timeout"] = limits.as_dict()
        response = await http.send(request, stream=True)
        try:
            assert response.status_code == 200  # headers always come
            async for piece in response.aiter_raw():
                received.append(piece)
        finally:
            await response.aclose()

    with pytest.raises(httpx.RemoteProtocolError):
        await read_all()
    assert len(b"".join(received)) == 5000

    fake.faults.stall(count=1)
    received.clear()
    with pytest.raises(httpx.ReadTimeout):
        await read_all(httpx.Timeout(5, read=0.3))
    assert received == []  # headers came, the body never did
    await until(lambda: fake.requests[-1].ended is not None)
    assert fake.requests[-1].closed_by_client and fake.in_flight(KEY) == 0

    fake.faults.malformed(after_chunks=2, transport="http")
    async with http.stream(
        "POST", tts_path(variant="/stream/with-timestamps"), params=params, json=body
    ) as response:
        lines = [line async for line in response.aiter_lines() if line]
    bad = [line for line in lines if not _is_json(line)]
    assert len(bad) == 1 and lines.index(bad[0]) == 2


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


async def test_billing_stops_when_the_client_hangs_up(
    fake: FakeElevenLabs, http: httpx.AsyncClient
):
    text = "Cancel me " * 10  # 100 characters, 5 s of tone, 50 chunks
    fake.faults.set_chunk_gap(0.03)
    async with http.stream(
        "POST", tts_path(), params={"output_format": "pcm_16000"}, json={"text": text}
    ) as response:
        chunks = 0
        async for _ in response.aiter_raw():
            chunks += 1
            if chunks == 3:
                break
    stopped = time.monotonic()
    await until(lambda: fake.requests[-1].ended is not None)
    record = fake.requests[-1]
    assert record.closed_by_client and record.ended - stopped < 0.1
    billed = fake.billed(KEY)
    assert 0 < billed < len(text) // 2
    await asyncio.sleep(0.3)  # ten chunk gaps: long enough for billing to grow if it still ran
    assert fake.billed(KEY) == billed == record.characters
    assert fake.in_flight(KEY) == 0

    subscription = (await http.get("/v1/user/subscription")).json()
    assert subscription["character_count"] == billed
    assert subscription["tier"] == "free" and subscription["character_limit"] == 10_000
    assert subscription["next_character_count_reset_unix"] > time.time()
    user = (await http.get("/v1/user")).json()
    assert user["subscription"]["character_count"] == billed
    voices = (await http.get("/v1/voices")).json()["voices"]
    assert {"Rachel", "Adam"} <= {v["name"] for v in voices}
    models = {m["model_id"]: m for m in (await http.get("/v1/models")).json()}
    assert models[MULTI]["maximum_text_length_per_request"] == 10_000
    assert models[FLASH]["concurrency_group"] == "turbo"


async def test_websocket_drop_silence_garbage_and_close_times(fake: FakeElevenLabs):
    fake.faults.drop_after(chunks=2, transport="ws")
    async with connect(ws_url(fake)) as ws:
        await ws.send(json.dumps({"text": " "}))
        await ws.send(json.dumps({"text": "Dropped halfway through ", "flush": True}))
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(2)]
        with pytest.raises(websockets.ConnectionClosedError):
            await asyncio.wait_for(ws.recv(), 5)
    assert len(got) == 2 and ws.close_code == 1006

    fake.faults.silent_success()
    async with connect(ws_url(fake, multi=True)) as ws:
        await ws.send(json.dumps({"text": "Hello ", "context_id": "c1", "flush": True}))
        silent = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert silent == {
        "audio": None,
        "isFinal": True,
        "normalizedAlignment": None,
        "alignment": None,
        "contextId": "c1",
    }

    fake.add_key("empty", character_limit=3)
    async with connect(ws_url(fake, multi=True), key="empty") as ws:
        await ws.send(json.dumps({"text": "Hello ", "context_id": "c1", "flush": True}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["audio"] is None
    assert fake.billed("empty") == 0

    fake.faults.malformed(after_chunks=1, transport="ws")
    async with connect(ws_url(fake)) as ws:
        await ws.send(json.dumps({"text": " "}))
        await ws.send(json.dumps({"text": "Garbage comes next ", "flush": True}))
        raw = [await asyncio.wait_for(ws.recv(), 5) for _ in range(2)]
        assert _is_json(str(raw[0])) and not _is_json(str(raw[1]))
        fake.faults.set_chunk_gap(0.05)
        closed_at = time.monotonic()
    await until(lambda: fake.websocket_contexts[-1].closed is not None)
    record = fake.websocket_contexts[-1]
    assert record.closed_by_client and record.closed - closed_at < 0.1
    assert record.contexts["default"].closed - closed_at < 0.1


# -- the command line -------------------------------------------------------------------------


def test_cli_prints_a_url_that_serves_until_terminated():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.elevenlabs",
            "--port",
            "0",
            "--mode",
            "tone",
            "--keys",
            "cli-key:pro:500",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        voices = httpx.get(f"{url}/v1/voices", headers={"xi-api-key": "cli-key"}, timeout=5)
        assert voices.status_code == 200 and voices.json()["voices"]
        sub = httpx.get(f"{url}/v1/user/subscription", headers={"xi-api-key": "cli-key"})
        assert sub.json()["tier"] == "pro" and sub.json()["character_limit"] == 500
    finally:
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0
