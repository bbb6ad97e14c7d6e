"""The two input-streaming sockets: ``stream-input`` (one context) and ``multi-stream-input``.

One :class:`SocketSession` per connection. Its reader loop parses client messages and enforces the
protocol; each context has a generation worker fed through a queue, so audio for one context is
sent in order and a ``close_context`` can finish asynchronously (after ``context_close_delay``).
Any party that decides the socket must end calls :meth:`SocketSession.terminate`, which sends the
error frame (if any) and the close frame; the reader then sees the close and the session winds down.

Decisions on UNCONFIRMED points (elevenlabs-api.md §7) are settings in :class:`FakeConfig`:
a bad key is an error frame + close 1008 after the handshake (or HTTP 401 at it), an exhausted quota
is a silent ``isFinal`` with null audio (or an error frame), replies carry ``contextId``/``isFinal``
(or ``context_id``/``is_final``), alignment times are relative to each chunk, and a plain flush on
the multi-context socket sends no ``isFinal`` (optionally a ``flush_done``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import protocol as p
from .catalog import DEFAULT_MODEL_ID, MODELS, VOICES
from .core import FakeCore, parse_output_format
from .faults import RequestFaults
from .synth import Chunk, chunks

DEFAULT_SCHEDULE = (120, 160, 250, 290)
TRIGGER_MINIMUM = 50
"""Characters a ``try_trigger_generation`` needs in the buffer (the schedule's lowest bound)."""
MAX_CONTEXTS = 5
_FINAL = object()


class _ProtocolError(Exception):
    def __init__(
        self, message: str = p.WS_PARSE_ERROR, error: str = "invalid_input_message"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error = error


@dataclass
class _Context:
    id: str
    schedule: tuple[int, ...]
    has_settings: bool
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    buffer: str = ""
    generations: int = 0
    closing: bool = False
    worker: asyncio.Task[None] | None = None


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class StreamInputApi:
    def __init__(self, core: FakeCore) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/text-to-speech/{voice_id}/stream-input", self.single),
            web.get("/v1/text-to-speech/{voice_id}/multi-stream-input", self.multi),
        ]

    async def single(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, multi=False)

    async def multi(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, multi=True)

    async def _serve(self, request: web.Request, *, multi: bool) -> web.StreamResponse:
        core = self.core
        key = request.headers.get("xi-api-key")
        bearer = request.query.get("authorization")
        if not key and bearer:
            key = bearer.removeprefix("Bearer ").strip()
        index = core.state.open_request("GET", request.path, key)
        try:
            timeout = int(request.query.get("inactivity_timeout", "20"))
        except ValueError:
            timeout = -1
        if not 0 < timeout <= 180:
            body = p.validation_body(
                [
                    p.ValidationIssue(
                        ("query", "inactivity_timeout"),
                        "Input should be less than or equal to 180",
                        "less_than_equal",
                        request.query.get("inactivity_timeout"),
                    )
                ]
            )
            core.state.update_request(index, status=422)
            core.state.close_request(index)
            return web.json_response(body, status=422)
        if key and core.state.account(key) is None and core.config.ws_auth_failure == "handshake":
            core.state.update_request(index, status=401)
            core.state.close_request(index)
            return core.error(401, "invalid_api_key", p.INVALID_KEY_MESSAGE)
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024, timeout=2.0, autoping=True)
        try:
            await ws.prepare(request)
        except BaseException:
            # The client hung up during the handshake (a cancelled connect): the request
            # ended there, whatever aiohttp raises for it (a reset, or cancelling us).
            core.state.close_request(index, closed_by_client=True)
            raise
        core.state.update_request(index, status=101)
        connection = core.state.open_connection(request.path, multi, key)
        session = SocketSession(core, request, ws, multi, connection, index, timeout, key)
        task = asyncio.current_task()
        assert task is not None
        core.live.add(task)
        try:
            await session.run()
        finally:
            core.live.discard(task)
            core.state.close_request(index, closed_by_client=session.closed_by_client)
            core.state.close_connection(
                connection, session.close_code, closed_by_client=session.closed_by_client
            )
        return ws


class SocketSession:
    def __init__(
        self,
        core: FakeCore,
        request: web.Request,
        ws: web.WebSocketResponse,
        multi: bool,
        connection: int,
        request_index: int,
        timeout: int,
        key: str | None,
    ) -> None:
        self.core = core
        self.request = request
        self.ws = ws
        self.multi = multi
        self.connection = connection
        self.request_index = request_index
        self.timeout = timeout
        self.key = key
        self.authorised = False
        query = request.query
        self.voice_id = request.match_info["voice_id"]
        self.model_id = query.get("model_id") or DEFAULT_MODEL_ID
        self.output_format = query.get("output_format")
        self.rate = parse_output_format(self.output_format)
        self.auto_mode = _truthy(query.get("auto_mode"))
        self.faults: RequestFaults = core.faults.draw("ws")
        self.contexts: dict[str, _Context] = {}
        self.seen_first = False
        self.ended = False  # end of stream ({"text":""} on stream-input, close_socket on multi)
        self.silenced = False
        self.finisher: asyncio.Task[None] | None = None
        self.close_code: int | None = None
        self.closed_by_client = False
        self.terminated = False
        self.chunks_sent = 0
        self.bytes_sent = 0
        self.errored_once = False
        self._send_lock = asyncio.Lock()
        self._last_input = time.monotonic()

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._check_connection()
            if not self.terminated:
                await self._read()
        except asyncio.CancelledError:
            # reset() or stop(): the server goes away (1001) rather than finishing normally.
            self.close_code = self.close_code or 1001
            raise
        finally:
            workers = [c.worker for c in self.contexts.values() if c.worker]
            if self.finisher is not None:
                workers.append(self.finisher)
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if not self.ws.closed and not self.terminated:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=self.close_code or 1000)

    async def _check_connection(self) -> None:
        if self.key:
            if self.core.state.account(self.key) is None:
                await self.terminate(
                    1008,
                    p.INVALID_KEY_MESSAGE,
                    p.ws_error(p.INVALID_KEY_MESSAGE, "invalid_api_key"),
                )
                return
            self.authorised = True
        if self.voice_id not in VOICES:
            message = p.VOICE_NOT_FOUND_MESSAGE.format(voice_id=self.voice_id)
            await self.terminate(1008, message, p.ws_error(message, "voice_not_found"))
            return
        model = MODELS.get(self.model_id)
        if model is None or not model.websocket:
            message = p.WS_MODEL_UNSUPPORTED.format(model_id=self.model_id)
            await self.terminate(1008, message, p.ws_error(message, "unsupported_model"))
            return
        if self.rate is None:
            message = p.OUTPUT_FORMAT_MESSAGE.format(
                output_format=self.output_format or "mp3_44100"
            )
            await self.terminate(
                1008, "Unsupported output format.", p.ws_error(message, "invalid_output_format")
            )

    async def terminate(self, code: int, reason: str, frame: dict[str, Any] | None = None) -> None:
        """End the socket from the server side: optional error frame, then the close frame."""
        if self.terminated:
            return
        self.terminated = True
        self.close_code = code
        try:
            if frame is not None:
                await self._send(frame)
            await self.ws.close(code=code, message=p.close_reason(reason).encode())
        except (ConnectionError, RuntimeError):
            pass

    def abort(self) -> None:
        """Drop the TCP connection without a close frame: the client sees 1006."""
        self.terminated = True
        self.close_code = 1006
        if self.request.transport is not None:
            self.request.transport.abort()

    async def _read(self) -> None:
        scaled = self.timeout * self.core.config.inactivity_time_scale
        while not self.terminated:
            wait = scaled - (time.monotonic() - self._last_input)
            if self.ended:
                wait = 3600.0  # after end of input only the finish (or a violation) ends the socket
            try:
                msg = await self.ws.receive(timeout=max(wait, 0.0))
            except TimeoutError:
                message = p.WS_TIMEOUT.format(seconds=self.timeout)
                await self.terminate(1008, message)
                return
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                if not self.terminated:
                    self.closed_by_client = True
                    self.close_code = self.ws.close_code or 1006
                return
            try:
                if msg.type != WSMsgType.TEXT:
                    raise _ProtocolError()
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    raise _ProtocolError() from None
                self._last_input = time.monotonic()
                await self._handle(data)
            except _ProtocolError as exc:
                await self.terminate(1008, exc.message, p.ws_error(exc.message, exc.error))
                return

    # -- messages -----------------------------------------------------------------------------

    async def _handle(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise _ProtocolError()
        text = data.get("text")
        if "text" in data and not isinstance(text, str):
            raise _ProtocolError()
        for flag in ("flush", "try_trigger_generation", "close_context", "close_socket"):
            if flag in data and not isinstance(data[flag], bool | None):
                raise _ProtocolError()
        schedule = self._schedule(data)
        if self.ended:
            raise _ProtocolError(p.WS_TEXT_AFTER_EOS)
        if not self.authorised:
            key = data.get("xi-api-key") or data.get("xi_api_key")
            bearer = data.get("authorization")
            if not key and isinstance(bearer, str):
                key = bearer.removeprefix("Bearer ").strip()
            if not isinstance(key, str) or not key:
                raise _ProtocolError(p.NO_KEY_MESSAGE, "needs_authorization")
            if self.core.state.account(key) is None:
                raise _ProtocolError(p.INVALID_KEY_MESSAGE, "invalid_api_key")
            self.key = key
            self.authorised = True
            self.core.state.set_connection_key(self.connection, key)
            self.core.state.update_request(self.request_index, key_fingerprint=p.fingerprint(key))
        if self.multi:
            await self._handle_multi(data, text, schedule)
        else:
            await self._handle_single(data, text, schedule)

    def _schedule(self, data: dict[str, Any]) -> tuple[int, ...] | None:
        config = data.get("generation_config")
        if config is None:
            return None
        if not isinstance(config, dict):
            raise _ProtocolError()
        schedule = config.get("chunk_length_schedule")
        if schedule is None:
            return None
        if (
            not isinstance(schedule, list)
            or not schedule
            or not all(isinstance(v, int) and 50 <= v <= 500 for v in schedule)
        ):
            raise _ProtocolError()
        return tuple(schedule)

    async def _handle_single(
        self, data: dict[str, Any], text: str | None, schedule: tuple[int, ...] | None
    ) -> None:
        if text is None:
            raise _ProtocolError()
        if not self.seen_first:
            if text == "" or text.strip():
                raise _ProtocolError(p.WS_FIRST_MESSAGE)
            self.seen_first = True
            self._open_context("default", schedule, "voice_settings" in data)
            return
        context = self.contexts["default"]
        self._check_settings(context, data)
        if text == "":
            self.ended = True
            self._finish_all()
            return
        self._add_text(context, text, data)

    async def _handle_multi(
        self, data: dict[str, Any], text: str | None, schedule: tuple[int, ...] | None
    ) -> None:
        if data.get("close_socket"):
            self.ended = True
            self._finish_all()
            return
        context_id = data.get("context_id", data.get("contextId"))
        if context_id is None:
            if text in (None, ""):
                return  # a connection-level keep-alive
            context_id = "default"
        if not isinstance(context_id, str):
            raise _ProtocolError()
        context = self.contexts.get(context_id)
        if data.get("close_context"):
            if context is not None and not context.closing:
                context.closing = True
                context.buffer = ""
                self.core.state.context_event(self.connection, context_id, state="closing")
                context.queue.put_nowait((_FINAL, self.core.config.context_close_delay))
            return
        if context is None:
            if len(self.contexts) >= MAX_CONTEXTS:
                raise _ProtocolError(p.WS_MAX_CONTEXTS, "max_active_conversations")
            context = self._open_context(context_id, schedule, "voice_settings" in data)
        else:
            self._check_settings(context, data)
        if context.closing:
            return  # text for a context being closed produces nothing
        if text:
            self._add_text(context, text, data)
        elif data.get("flush"):
            self._generate(context, context.buffer)
            context.buffer = ""

    def _check_settings(self, context: _Context, data: dict[str, Any]) -> None:
        if "voice_settings" in data and not context.has_settings:
            raise _ProtocolError(p.WS_VOICE_SETTINGS_LATE, "invalid_input_message")

    def _open_context(
        self, context_id: str, schedule: tuple[int, ...] | None, has_settings: bool
    ) -> _Context:
        context = _Context(context_id, schedule or DEFAULT_SCHEDULE, has_settings)
        context.worker = asyncio.create_task(self._work(context), name=f"fake-el-ctx-{context_id}")
        self.contexts[context_id] = context
        self.core.state.context_event(self.connection, context_id, state="open")
        return context

    def _add_text(self, context: _Context, text: str, data: dict[str, Any]) -> None:
        context.buffer += text
        if (
            data.get("flush")
            or self.auto_mode
            or (data.get("try_trigger_generation") and len(context.buffer) >= TRIGGER_MINIMUM)
        ):
            self._generate(context, context.buffer)
            context.buffer = ""
            return
        while True:
            threshold = context.schedule[min(context.generations, len(context.schedule) - 1)]
            if len(context.buffer) < threshold:
                return
            cut = context.buffer.rfind(" ", threshold - 1) + 1 or len(context.buffer)
            self._generate(context, context.buffer[:cut])
            context.buffer = context.buffer[cut:]

    def _generate(self, context: _Context, text: str) -> None:
        context.generations += 1
        if text.strip():
            context.queue.put_nowait(text)

    def _finish_all(self) -> None:
        """End of input: generate every buffer, finish every context, then close 1000."""
        for context in self.contexts.values():
            if not context.closing:
                self._generate(context, context.buffer)
                context.buffer = ""
                context.closing = True
                self.core.state.context_event(self.connection, context.id, state="closing")
                context.queue.put_nowait((_FINAL, 0.0))
        self.finisher = asyncio.create_task(self._close_when_done(), name="fake-el-finish")

    async def _close_when_done(self) -> None:
        workers = [c.worker for c in self.contexts.values() if c.worker]
        await asyncio.gather(*workers, return_exceptions=True)
        await self.terminate(1000, "")

    # -- generation ---------------------------------------------------------------------------

    async def _work(self, context: _Context) -> None:
        try:
            while True:
                item = await context.queue.get()
                if isinstance(item, tuple) and item[0] is _FINAL:
                    if item[1]:
                        await asyncio.sleep(item[1])
                    await self._final(context)
                    return
                if not await self._speak(context, item):
                    return
        except (ConnectionError, RuntimeError):
            if not self.terminated:
                self.abort()
        finally:
            if self.multi:
                self.contexts.pop(context.id, None)

    async def _final(self, context: _Context) -> None:
        if not (self.silenced and not self.multi):
            await self._send(self._tag({self._final_key: True}, context))
        self.core.state.context_event(self.connection, context.id, state="closed")

    @property
    def _final_key(self) -> str:
        return self.core.config.final_key if self.multi else "isFinal"

    def _tag(self, message: dict[str, Any], context: _Context) -> dict[str, Any]:
        if self.multi:
            message[self.core.config.context_id_key] = context.id
        return message

    async def _speak(self, context: _Context, text: str) -> bool:
        """Generate one text; False when the context is finished (silently) and must stop."""
        assert self.key is not None and self.rate is not None
        faults = self.faults
        if self.silenced and not self.multi:
            return True
        if faults.error_status is not None:
            await self.terminate(1008, p.SERVER_ERROR_MESSAGE)
            return False
        account = self.core.state.account(self.key)
        if faults.silent_success or account is None or account.remaining < len(text):
            if self.core.config.ws_quota_failure == "frame" and not faults.silent_success:
                remaining = account.remaining if account else 0
                message = p.QUOTA_MESSAGE.format(
                    limit=account.character_limit if account else 0,
                    remaining=remaining,
                    required=len(text),
                )
                await self.terminate(1008, "quota_exceeded", p.ws_error(message, "quota_exceeded"))
                return False
            silent = {
                "audio": None,
                self._final_key: True,
                "normalizedAlignment": None,
                "alignment": None,
            }
            await self._send(self._tag(silent, context))
            if self.multi:
                self.core.state.context_event(self.connection, context.id, state="closed")
                return False
            self.silenced = True
            return True
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = True
        produced = chunks(
            self.core.synth,
            text,
            self.rate,
            self.core.config.mode,
            self.core.config.tone_seconds_per_char,
            faults.chunk_seconds,
        )
        async with aclosing(produced) as audio:
            async for chunk in audio:
                if first and faults.latency:
                    await asyncio.sleep(faults.latency)
                if not first and faults.chunk_gap:
                    await asyncio.sleep(faults.chunk_gap)
                first = False
                if faults.pace:
                    delay = started + chunk.start / faults.pace - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if (
                    faults.stall_after_chunks is not None
                    and self.chunks_sent >= faults.stall_after_chunks
                ):
                    await asyncio.Event().wait()
                if faults.malformed_after_chunks == self.chunks_sent and not self.errored_once:
                    self.errored_once = True
                    await self.ws.send_str('{"audio": "AAAA", "isFinal": nu')
                frame = json.dumps(self._audio_message(chunk, context))
                if (
                    faults.drop_after_chunks is not None
                    and self.chunks_sent >= faults.drop_after_chunks
                ) or (
                    faults.drop_after_bytes is not None
                    and self.bytes_sent + len(frame) > faults.drop_after_bytes
                ):
                    self.abort()
                    return False
                async with self._send_lock:
                    await self.ws.send_str(frame)
                self.chunks_sent += 1
                self.bytes_sent += len(frame)
                self.core.state.bill(self.key, len(chunk.chars), self.request_index)
                self.core.state.context_event(
                    self.connection, context.id, characters=len(chunk.chars)
                )
        return True

    def _audio_message(self, chunk: Chunk, context: _Context) -> dict[str, Any]:
        every = self.faults.null_alignment_every
        null = every and (self.chunks_sent + 1) % every == 0
        alignment = None
        if not null:
            alignment = {
                "chars": [c.char for c in chunk.chars],
                "charStartTimesMs": [round((c.start - chunk.start) * 1000) for c in chunk.chars],
                self.core.config.durations_key: [round(c.duration * 1000) for c in chunk.chars],
            }
        message: dict[str, Any] = {"audio": base64.b64encode(chunk.pcm).decode()}
        if not self.multi:
            message["isFinal"] = None
        message["normalizedAlignment"] = alignment
        message["alignment"] = alignment
        return self._tag(message, context)

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_str(json.dumps(message))
