"""The thin I/O shells: httpx (through MockTransport) and websockets (a tiny local server)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from voxtray.core.errors import (
    AuthenticationError,
    ConnectionLostError,
    ProtocolError,
    QuotaExceededError,
    RateLimitedError,
    ServiceError,
)
from voxtray.core.providers.elevenlabs import api
from voxtray.core.providers.elevenlabs.http import HttpSession
from voxtray.core.providers.elevenlabs.ws import WebSocketSession
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

KEY = "sk_" + "a1" * 24


def pcm(n: int, value: int = 100) -> bytes:
    return struct.pack(f"<{n}h", *([value] * n))


# --- HTTP -------------------------------------------------------------------------------------


class Body(httpx.AsyncByteStream):
    """A response body sent piece by piece, with an optional wait, that records its closing."""

    def __init__(self, pieces: list[bytes], wait: float = 0.0, fail: Exception | None = None):
        self.pieces = pieces
        self.wait = wait
        self.fail = fail
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            if self.wait:
                await asyncio.sleep(self.wait)
            self.sent += 1
            yield piece
        if self.fail is not None:
            raise self.fail

    async def aclose(self) -> None:
        self.closed = True


def http_session(
    handler: Callable[[httpx.Request], Coroutine[None, None, httpx.Response]],
    key: str | None = KEY,
) -> HttpSession:
    return HttpSession(
        "https://api.elevenlabs.test", lambda: key, transport=httpx.MockTransport(handler)
    )


async def test_http_streams_whole_samples_as_they_arrive() -> None:
    audio = pcm(1000)
    body = Body([audio[:3], audio[3:1001], audio[1001:]])
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"content-type": "audio/pcm", "character-cost": "12", "request-id": "r1"}
        return httpx.Response(200, headers=headers, stream=body)

    session = http_session(handler)
    request = api.build_speech_request("v1", "Hello there.", sample_rate=16000)
    chunks = []
    async with session.stream(request) as response:
        assert response.info.character_cost == 12 and response.info.request_id == "r1"
        async for piece, alignment in response.aiter_audio(timestamped=False):
            assert len(piece) % 2 == 0 and alignment is None
            chunks.append(piece)
        assert response.complete
    assert b"".join(chunks) == audio and len(chunks) == 3
    sent = seen[0]
    assert sent.headers["xi-api-key"] == KEY
    assert sent.url.path == "/v1/text-to-speech/v1/stream"
    assert sent.url.params["output_format"] == "pcm_16000"
    assert KEY not in str(sent.url)
    assert json.loads(sent.content) == {"text": "Hello there.", "model_id": "eleven_flash_v2_5"}
    await session.aclose()


async def test_http_with_timestamps_yields_alignment() -> None:
    def line(samples: bytes, chars: str, start: float) -> bytes:
        alignment = {
            "characters": list(chars),
            "character_start_times_seconds": [start + 0.1 * i for i in range(len(chars))],
            "character_end_times_seconds": [start + 0.1 * (i + 1) for i in range(len(chars))],
        }
        return (
            json.dumps(
                {
                    "audio_base64": base64.b64encode(samples).decode(),
                    "alignment": alignment,
                    "normalized_alignment": alignment,
                }
            ).encode()
            + b"\n"
        )

    payload = line(pcm(10), "Hi", 0.0) + line(pcm(6), " you", 0.2)

    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/stream/with-timestamps")
        return httpx.Response(200, stream=Body([payload[:7], payload[7:50], payload[50:]]))

    session = http_session(handler)
    request = api.build_speech_request("v", "Hi you", with_timestamps=True)
    async with session.stream(request) as response:
        out = [item async for item in response.aiter_audio(timestamped=True)]
    assert [len(p) for p, _ in out] == [20, 12]
    assert [a.text for _, a in out if a is not None] == ["Hi", " you"]
    await session.aclose()


async def test_http_errors_map_to_the_tree() -> None:
    answers = {
        "/a": (401, '{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}', {}),
        "/b": (
            429,
            '{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent"}}',
            {"retry-after": "1"},
        ),
        "/c": (401, '{"detail":{"status":"quota_exceeded","message":"0 credits"}}', {}),
        "/d": (502, "<html>Bad gateway</html>", {}),
    }

    async def handler(request: httpx.Request) -> httpx.Response:
        status, body, headers = answers[request.url.path]
        return httpx.Response(status, headers=headers, content=body.encode())

    session = http_session(handler)
    with pytest.raises(AuthenticationError):
        await session.get_json(api.build_get("/a"))
    with pytest.raises(RateLimitedError) as limited:
        async with session.stream(api.build_get("/b")):
            pass
    assert limited.value.kind == "concurrency" and limited.value.retry_after == 1.0
    with pytest.raises(QuotaExceededError):
        await session.get_json(api.build_get("/c"))
    with pytest.raises(ServiceError):
        await session.get_json(api.build_get("/d"))
    await session.aclose()


async def test_http_network_failures_are_connection_lost() -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused (key {KEY})", request=request)

    session = http_session(refuse)
    with pytest.raises(ConnectionLostError) as caught:
        await session.get_json(api.MODELS)
    assert KEY not in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    await session.aclose()

    async def stall(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Body([b"\0\0"], fail=httpx.ReadTimeout("stalled")))

    session = http_session(stall)

    async def drain() -> None:
        async with session.stream(api.build_speech_request("v", "x")) as response:
            async for _ in response.aiter_audio(timestamped=False):
                pass

    with pytest.raises(ConnectionLostError, match="stalled"):
        await drain()
    await session.aclose()


async def test_http_without_a_key() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent without a key")

    session = http_session(handler, key=None)
    with pytest.raises(AuthenticationError, match="No ElevenLabs API key"):
        await session.get_json(api.USER)
    await session.aclose()


async def test_http_json_error_instead_of_audio() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=b"{}")

    session = http_session(handler)
    with pytest.raises(ProtocolError):
        async with session.stream(api.build_speech_request("v", "x")):
            pass
    await session.aclose()


async def test_http_leaving_early_closes_the_response() -> None:
    body = Body([pcm(100)] * 50, wait=0.01)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=body)

    session = http_session(handler)

    async def consume() -> None:
        async with session.stream(api.build_speech_request("v", "x")) as response:
            async for _ in response.aiter_audio(timestamped=False):
                pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert body.closed and body.sent < 50
    await session.aclose()


# --- WebSocket --------------------------------------------------------------------------------


class SocketServer:
    """A scripted ``multi-stream-input`` server: enough protocol for the shell's own logic."""

    def __init__(self) -> None:
        self.behaviour = "speak"  # speak | silent | close_at_once | drop_after_audio | error_frame
        self.reject_status: int | None = None
        self.final_delay = 0.0
        self.chunks_per_text = 3
        self.chunk_gap = 0.0
        self.handshakes = 0
        self.keys: list[str | None] = []
        self.messages: list[dict[str, Any]] = []
        self.open_contexts: set[str] = set()
        self.max_open = 0
        self.connections: list[ServerConnection] = []
        self._server: Any = None
        self.port = 0

    async def __aenter__(self) -> SocketServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def url(self) -> str:
        return api.websocket_url(f"http://127.0.0.1:{self.port}", "voice", sample_rate=16000)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        self.keys.append(request.headers.get("xi-api-key"))
        if self.reject_status is not None:
            body = '{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}'
            return connection.respond(self.reject_status, body)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        if self.behaviour == "close_at_once":
            await ws.close(1008, "policy")
            return
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for raw in ws:
                message = json.loads(raw)
                self.messages.append(message)
                context = message.get("context_id")
                if message.get("close_socket"):
                    await ws.close(1000)
                    return
                if context is None:
                    continue
                if message.get("text") == " ":
                    self.open_contexts.add(context)
                    self.max_open = max(self.max_open, len(self.open_contexts))
                    if len(self.open_contexts) > api.MAX_CONTEXTS_PER_SOCKET:
                        await ws.send(
                            json.dumps(
                                {
                                    "message": "Maximum simultaneous contexts",
                                    "error": "max_active_conversations",
                                    "code": 1008,
                                }
                            )
                        )
                        await ws.close(1008, "too many contexts")
                        return
                elif message.get("text", "").strip():
                    task = asyncio.create_task(self._speak(ws, context))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif message.get("close_context"):
                    task = asyncio.create_task(self._final(ws, context))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()

    async def _speak(self, ws: ServerConnection, context: str) -> None:
        if self.behaviour == "error_frame":
            await ws.send(
                json.dumps(
                    {
                        "message": "You have 0 credits",
                        "error": "quota_exceeded",
                        "code": 1008,
                        "contextId": context,
                    }
                )
            )
            return
        if self.behaviour == "silent":
            return
        for i in range(self.chunks_per_text):
            if self.chunk_gap:
                await asyncio.sleep(self.chunk_gap)
            frame = {
                "audio": base64.b64encode(pcm(160, i + 1)).decode(),
                "isFinal": None,
                "alignment": {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [10]},
                "contextId": context,
            }
            await ws.send(json.dumps(frame))
            if self.behaviour == "drop_after_audio":
                await asyncio.sleep(0.05)
                assert ws.transport is not None
                ws.transport.abort()
                return

    async def _final(self, ws: ServerConnection, context: str) -> None:
        await asyncio.sleep(self.final_delay + self.chunk_gap * (self.chunks_per_text + 1))
        self.open_contexts.discard(context)
        with contextlib.suppress(Exception):
            await ws.send(json.dumps({"isFinal": True, "context_id": context}))


@pytest.fixture
async def socket_server() -> AsyncIterator[SocketServer]:
    async with SocketServer() as server:
        yield server


def ws_session(server: SocketServer, **options: Any) -> WebSocketSession:
    options.setdefault("stall_timeout", 3.0)
    return WebSocketSession(server.url(), lambda: KEY, **options)


async def speak_all(session: WebSocketSession, text: str) -> bytes:
    return b"".join([audio.frame.pcm async for audio in session.speak(text)])


async def test_ws_speaks_over_one_warm_socket(socket_server: SocketServer) -> None:
    session = ws_session(socket_server)
    assert await session.start() is True
    first = await speak_all(session, "Hello there.  ")
    second = await speak_all(session, "Again.")
    assert len(first) == len(second) == 3 * 320
    assert socket_server.handshakes == 1 and socket_server.keys == [KEY]
    assert session.connections_opened == 1 and session.contexts_on_warm_socket == 2
    sent = [m for m in socket_server.messages if m.get("context_id")]
    ctx = sent[0]["context_id"]
    assert sent[:3] == [
        {"text": " ", "context_id": ctx},
        {"text": "Hello there. ", "context_id": ctx, "flush": True},
        {"context_id": ctx, "close_context": True},
    ]
    assert sent[3]["context_id"] != ctx  # a fresh context, never a re-initialised one
    await session.aclose()
    assert socket_server.messages[-1] == {"close_socket": True}


async def test_ws_never_more_than_five_contexts(socket_server: SocketServer) -> None:
    socket_server.final_delay = 0.1
    session = ws_session(socket_server)
    results = await asyncio.gather(*(speak_all(session, f"Text {i}.") for i in range(8)))
    assert all(len(r) == 3 * 320 for r in results)
    assert socket_server.max_open <= api.MAX_CONTEXTS_PER_SOCKET
    assert socket_server.handshakes == 1
    await session.aclose()


async def test_ws_cancel_stops_audio_at_once_and_frees_the_slot(
    socket_server: SocketServer,
) -> None:
    socket_server.chunks_per_text = 20
    socket_server.chunk_gap = 0.02
    session = ws_session(socket_server)
    stream = session.speak("A long sentence.")
    got = [await anext(stream)]
    await stream.aclose()
    ctx = next(m["context_id"] for m in socket_server.messages if m.get("context_id"))
    assert {"context_id": ctx, "close_context": True} in socket_server.messages
    assert len(got) == 1
    # Five more contexts fit once the closing one has confirmed its end.
    socket_server.chunks_per_text, socket_server.chunk_gap = 1, 0.0
    await asyncio.gather(*(speak_all(session, "x") for _ in range(5)))
    assert socket_server.max_open <= api.MAX_CONTEXTS_PER_SOCKET
    await session.aclose()


async def test_ws_silent_success_is_an_error(socket_server: SocketServer) -> None:
    socket_server.behaviour = "silent"
    session = ws_session(socket_server)
    with pytest.raises(ServiceError, match="without any audio"):
        await speak_all(session, "Hello.")
    await session.aclose()


async def test_ws_error_frame_for_a_context(socket_server: SocketServer) -> None:
    socket_server.behaviour = "error_frame"
    session = ws_session(socket_server)
    with pytest.raises(QuotaExceededError):
        await speak_all(session, "Hello.")
    await session.aclose()


async def test_ws_refused_key_is_never_retried(socket_server: SocketServer) -> None:
    socket_server.reject_status = 401
    session = ws_session(socket_server)
    with pytest.raises(AuthenticationError) as caught:
        await session.start()
    assert KEY not in str(caught.value)
    with pytest.raises(AuthenticationError):
        await speak_all(session, "Hello.")
    assert socket_server.handshakes == 1
    await session.aclose()


async def test_ws_quick_failure_is_not_retried(socket_server: SocketServer) -> None:
    socket_server.behaviour = "close_at_once"
    session = ws_session(socket_server, reconnect_delays=(0.01, 0.01))
    await session.start()
    for _ in range(100):
        if session.failure is not None:
            break
        await asyncio.sleep(0.01)
    assert isinstance(session.failure, ProtocolError)
    with pytest.raises(ProtocolError):
        await speak_all(session, "Hello.")
    await asyncio.sleep(0.1)
    assert socket_server.handshakes == 1 and session.quick_failures == 1
    await session.aclose()


async def test_ws_reconnects_after_an_abnormal_close(socket_server: SocketServer) -> None:
    socket_server.behaviour = "drop_after_audio"
    socket_server.final_delay = 1.0
    session = ws_session(socket_server, quick_failure_window=0.0, reconnect_delays=(0.01,))
    with pytest.raises(ConnectionLostError):
        await speak_all(session, "Hello.")
    socket_server.behaviour, socket_server.final_delay = "speak", 0.0
    for _ in range(200):
        if socket_server.handshakes == 2 and session.is_connected:
            break
        await asyncio.sleep(0.01)
    assert socket_server.handshakes == 2 and session.is_connected
    assert len(await speak_all(session, "Again.")) == 3 * 320
    assert session.connections_opened == 2
    await session.aclose()


async def test_ws_keeps_the_socket_alive(socket_server: SocketServer) -> None:
    session = ws_session(socket_server, keepalive_interval=0.1)
    await session.start()
    await asyncio.sleep(0.35)
    assert {"text": ""} in socket_server.messages
    await session.aclose()


async def test_ws_closes_an_idle_socket_and_reopens_on_demand(
    socket_server: SocketServer,
) -> None:
    session = ws_session(socket_server, keepalive_interval=0.05, idle_timeout=0.1)
    await session.start()
    for _ in range(100):
        if not session.is_connected:
            break
        await asyncio.sleep(0.01)
    assert not session.is_connected and session.failure is None
    assert len(await speak_all(session, "Back.")) == 3 * 320
    assert socket_server.handshakes == 2
    await session.aclose()
