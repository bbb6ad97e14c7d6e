"""The WebSocket shell: one persistent ``multi-stream-input`` socket, one context per segment.

This is the only module that imports websockets. The protocol (URLs, messages, frames, close
codes) is in the sans-I/O modules; this one owns sockets and the tasks that serve them.

A :class:`WebSocketSession` exists per (voice, model, output format), because those are fixed
in the socket's URL. It keeps at most one :class:`_Connection` open and warm:

* **Contexts.** Each :meth:`WebSocketSession.speak` opens a fresh context (ids are never
  reused, so a live context is never re-initialised): ``{"text":" ", voice_settings}``, then the
  text with ``flush``, then ``close_context`` at once, so that ``isFinal`` follows the last
  audio. Nothing is ever sent to a context after its ``close_context``.
* **The five-context cap** counts contexts still closing: a slot is free only once the server
  confirmed the close with ``isFinal`` (or ``close_grace`` seconds passed without it).
* **Cancellation.** Closing the iterator stops yielding that context's audio at once; the
  context is closed on the server (if it was not already) and its late frames are dropped. A
  flush already under way is still generated (the service finishes it), so cancelled audio
  that was already requested is billed: the HTTP transport, where closing the response stops
  generation, is the better choice for speculative work.
* **Keep-alive.** A task owned by the connection sends ``{"text":"","context_id"}`` for open
  contexts, or a context-less ``{"text":""}``, well within the inactivity timeout; after
  ``idle_timeout`` seconds without a segment it closes the socket politely (``close_socket``).
* **Failures.** An abnormal close fails the open contexts and reconnects in the background,
  with backoff. A *quick failure* (the server closed right after the handshake, before any
  audio) or a handshake refused with 401/403 is never retried: the session remembers the
  error and raises it until the key changes or ``failure_cooldown`` passes.
* **Silent success.** ``isFinal`` without any audio for real text (seen for an exhausted quota,
  §2.1) raises :class:`~voxtray.core.errors.ServiceError`: the provider then retries the segment
  over HTTP, whose answer (``quota_exceeded`` or audio) is definite.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from ...errors import (
    AuthenticationError,
    ConnectionLostError,
    ProtocolError,
    ProviderError,
    QuotaExceededError,
    ServiceError,
)
from ...secrets import key_fingerprint
from .api import (
    MAX_CONTEXTS_PER_SOCKET,
    VoiceSettings,
    auth_headers,
    close_context,
    close_socket,
    context_text,
    init_context,
    keep_alive,
    redact,
)
from .errors import error_from_close, error_from_frame, error_from_handshake
from .frames import ServerFrame, SocketError, parse_server_frame
from .http import require_key

_LOG = logging.getLogger(__name__)
_MAX_FRAME = 16 * 1024 * 1024
_SECRET_HEADERS = frozenset({"xi-api-key", "authorization"})


def _redact_headers(record: logging.LogRecord) -> bool:
    """websockets logs every handshake header at DEBUG (``> name: value``): hide the key."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
        record.args = (args[0], "[redacted]")
    return True


_WIRE_LOG = logging.getLogger(f"{__name__}.wire")
"""The logger handed to websockets (its handshake lines, frames, closes), key redacted."""
_WIRE_LOG.addFilter(_redact_headers)


@dataclass(eq=False)
class _Context:
    id: str
    frames: asyncio.Queue[ServerFrame | ProviderError] = field(default_factory=asyncio.Queue)
    ended: bool = False
    """``close_context`` was sent: nothing more may be sent to it."""
    abandoned: bool = False
    """Its consumer left: late audio is dropped."""
    ended_at: float = 0.0
    last_sent: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class CloseInfo:
    """How a connection ended."""

    by_us: bool
    code: int | None
    reason: str
    lifetime: float
    had_audio: bool
    error: ProviderError | None


class _Connection:
    """One open socket: a reader task and a keep-alive task, both owned here."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        secret: str,
        keepalive_interval: float,
        idle_timeout: float | None,
        close_grace: float,
        on_closed: Callable[[_Connection, CloseInfo], None],
    ) -> None:
        self._ws = ws
        self._secret = secret
        self.key_fingerprint = key_fingerprint(secret)
        self._keepalive_interval = keepalive_interval
        self._idle_timeout = idle_timeout
        self._close_grace = close_grace
        self._on_closed = on_closed
        self._contexts: dict[str, _Context] = {}
        self._slots = asyncio.Condition()
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self._opened_at = time.monotonic()
        self._last_used = self._opened_at
        self._last_sent = self._opened_at
        self._had_audio = False
        self._closing_by_us = False
        self._last_error: SocketError | None = None
        self._closed_error: ProviderError | None = None
        self._done = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name="elevenlabs-ws-reader")
        self._keeper = asyncio.create_task(self._keep_alive(), name="elevenlabs-ws-keepalive")

    @property
    def is_open(self) -> bool:
        return not self._done.is_set() and not self._closing_by_us

    @property
    def contexts_in_use(self) -> int:
        return len(self._contexts)

    @property
    def finished(self) -> bool:
        """Closed, and both of its tasks are over."""
        return self._done.is_set() and self._reader.done() and self._keeper.done()

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, message: str) -> None:
        if self._closed_error is not None:
            raise self._closed_error.with_traceback(None)  # reused: no growing traceback
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise self._close_error(exc.rcvd.code if exc.rcvd else None, "") from exc
        self._last_sent = time.monotonic()

    async def open_context(self, voice_settings: VoiceSettings | None) -> _Context:
        """A new context, once fewer than five (open or closing) exist on this socket."""
        async with self._slots:
            while len(self._contexts) >= MAX_CONTEXTS_PER_SOCKET:
                if self._closed_error is not None:
                    raise self._closed_error.with_traceback(None)  # reused: no growing traceback
                self._purge_stale()
                if len(self._contexts) < MAX_CONTEXTS_PER_SOCKET:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._slots.wait(), timeout=self._close_grace / 4)
            context = _Context(f"{self._prefix}-{next(self._ids)}")
            self._contexts[context.id] = context
        self._last_used = time.monotonic()
        try:
            await self._send(init_context(context.id, voice_settings))
        except BaseException:
            await self._forget(context)
            raise
        return context

    async def say(self, context: _Context, text: str) -> None:
        """The context's whole text with a flush, then its end: ``isFinal`` follows the audio."""
        if context.ended:
            raise RuntimeError("text sent to a context after its end")
        await self._send(context_text(context.id, text, flush=True))
        context.last_sent = time.monotonic()
        await self.end(context)

    async def end(self, context: _Context) -> None:
        if context.ended or context.id not in self._contexts:
            return
        context.ended = True
        context.ended_at = time.monotonic()
        await self._send(close_context(context.id))

    async def abandon(self, context: _Context) -> None:
        """The consumer left: drop late audio, and close the context if it is still open."""
        context.abandoned = True
        if context.id not in self._contexts:
            return
        if not context.ended and self._closed_error is None:
            try:
                await self.end(context)
            except ProviderError:
                await self._forget(context)  # the socket is gone, and the context with it

    async def _forget(self, context: _Context) -> None:
        async with self._slots:
            self._contexts.pop(context.id, None)
            self._slots.notify_all()

    def _purge_stale(self) -> None:
        """Closing contexts whose ``isFinal`` never came stop holding a slot after a grace."""
        now = time.monotonic()
        for cid, ctx in list(self._contexts.items()):
            if ctx.ended and ctx.abandoned and now - ctx.ended_at > self._close_grace:
                _LOG.debug("ElevenLabs context %s never confirmed its close", cid)
                del self._contexts[cid]

    # -- receiving -------------------------------------------------------------------------

    async def _read(self) -> None:
        code: int | None = None
        reason = ""
        error: ProviderError | None = None
        try:
            async for raw in self._ws:
                try:
                    frame = parse_server_frame(raw)
                except ProtocolError as exc:
                    error = exc
                    break
                await self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            if error is not None:
                # A frame we cannot read leaves every context in doubt: start afresh.
                self._closing_by_us = True
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._ws.close(1002, "unreadable frame"))
            code, reason = self._ws.close_code, self._ws.close_reason or ""
            by_us = self._closing_by_us and error is None
            failure = error or self._close_error(code, reason)
            self._closed_error = failure
            self._fail_all(failure)
            self._done.set()
            self._on_closed(
                self,
                CloseInfo(
                    by_us=by_us,
                    code=code,
                    reason=redact(reason, self._secret),
                    lifetime=time.monotonic() - self._opened_at,
                    had_audio=self._had_audio,
                    error=failure,
                ),
            )

    def _close_error(self, code: int | None, reason: str) -> ProviderError:
        if self._closing_by_us:
            return ConnectionLostError("The connection to ElevenLabs was closed.")
        return error_from_close(code, reason, self._last_error, secret=self._secret)

    async def _dispatch(self, frame: ServerFrame) -> None:
        context = self._contexts.get(frame.context_id or "")
        if frame.error is not None:
            if context is None:
                # A socket-level error: the server is about to close; say why to everyone.
                self._last_error = frame.error
                self._fail_all(error_from_frame(frame.error, secret=self._secret))
                return
            context.frames.put_nowait(error_from_frame(frame.error, secret=self._secret))
            await self._forget(context)
            return
        if context is None:
            return  # flush_done or audio of a context we forgot (purged or never ours)
        if frame.pcm:
            self._had_audio = True
        if not context.abandoned and (frame.pcm or frame.is_final):
            context.frames.put_nowait(frame)
        if frame.is_final:
            await self._forget(context)

    def _fail_all(self, error: ProviderError) -> None:
        for context in self._contexts.values():
            if not context.abandoned:
                context.frames.put_nowait(error)
        self._contexts.clear()

    # -- keep-alive and closing ------------------------------------------------------------

    async def _keep_alive(self) -> None:
        while not self._done.is_set():
            await asyncio.sleep(self._keepalive_interval / 2)
            now = time.monotonic()
            if (
                self._idle_timeout is not None
                and not self._contexts
                and now - self._last_used > self._idle_timeout
            ):
                _LOG.debug("Closing the idle ElevenLabs socket")
                await self._shutdown()
                return
            try:
                for context in list(self._contexts.values()):
                    if not context.ended and now - context.last_sent >= self._keepalive_interval:
                        await self._send(keep_alive(context.id))
                        context.last_sent = now
                if now - self._last_sent >= self._keepalive_interval:
                    await self._send(keep_alive())
            except ProviderError:
                return  # the reader reports the close

    async def _shutdown(self, wait: float = 2.0) -> None:
        """``close_socket``, wait briefly for the server to close first, then close."""
        if self._closing_by_us:
            return
        self._closing_by_us = True
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(close_socket())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._done.wait()), timeout=wait)
        await self._ws.close()

    async def abort(self) -> None:
        """Close now, without ``close_socket``: the server drops what it was generating.

        A flush already under way cannot be stopped any other way (§2.2: closing a context
        lets its flush finish, and bills it), so a cancelled utterance costs this socket.
        """
        self._closing_by_us = True
        with contextlib.suppress(ConnectionClosed):
            await self._ws.close()
        current = asyncio.current_task()
        for task in (self._keeper, self._reader):
            if task is not current:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._keeper, self._reader) if t is not current),
            return_exceptions=True,
        )

    async def aclose(self) -> None:
        try:
            await self._shutdown()
        finally:
            current = asyncio.current_task()
            for task in (self._keeper, self._reader):
                if task is not current:
                    task.cancel()
            await asyncio.gather(
                *(t for t in (self._keeper, self._reader) if t is not current),
                return_exceptions=True,
            )


@dataclass(frozen=True, slots=True)
class SocketAudio:
    """Audio of one context as it arrives (alignment relative to this frame's audio)."""

    frame: ServerFrame
    new_connection: bool


class WebSocketSession:
    """A warm ``multi-stream-input`` socket for one voice, model and format; see the module."""

    def __init__(
        self,
        url: str,
        api_key: Callable[[], str | None],
        *,
        open_timeout: float = 10.0,
        stall_timeout: float = 20.0,
        keepalive_interval: float = 10.0,
        idle_timeout: float | None = 600.0,
        close_grace: float = 5.0,
        quick_failure_window: float = 2.0,
        reconnect_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
        failure_cooldown: float = 300.0,
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._open_timeout = open_timeout
        self._stall_timeout = stall_timeout
        self._keepalive_interval = keepalive_interval
        self._idle_timeout = idle_timeout
        self._close_grace = close_grace
        self._quick_failure_window = quick_failure_window
        self._reconnect_delays = reconnect_delays
        self._failure_cooldown = failure_cooldown
        self._conn: _Connection | None = None
        self._old: set[_Connection] = set()
        self._lock = asyncio.Lock()
        self._reconnector: asyncio.Task[None] | None = None
        self._fatal: ProviderError | None = None
        self._fatal_at = 0.0
        self._fatal_key: str | None = None
        self._closed = False
        self.connections_opened = 0
        self.contexts_opened = 0
        self.contexts_on_warm_socket = 0
        self.quick_failures = 0

    @property
    def is_connected(self) -> bool:
        return self._conn is not None and self._conn.is_open

    @property
    def failure(self) -> ProviderError | None:
        """The error that stops this session from connecting, if any."""
        return self._fatal

    async def start(self) -> bool:
        """Be connected; returns whether a new socket had to be opened for it."""
        if self._closed:
            raise ConnectionLostError("The ElevenLabs stream session is closed.")
        self._check_fatal()
        await self._drop_other_key()
        if self._conn is not None and self._conn.is_open:
            return False
        async with self._lock:
            if self._conn is not None and self._conn.is_open:
                return False
            self._check_fatal()
            if self._conn is not None:
                # Still closing (its reader may be waiting for the close handshake): keep it
                # where aclose() finds it, or its keep-alive task outlives the session.
                self._old.add(self._conn)
            self._conn = await self._connect()
            return True

    async def _drop_other_key(self) -> None:
        """A socket opened with a key that is no longer the key (replaced or removed) is let
        go: the next context must be spoken, and billed, with the key as it is now. Contexts
        still running on it finish."""
        conn = self._conn
        if conn is None or not conn.is_open:
            return
        key = self._api_key()
        if key is not None and key_fingerprint(key) == conn.key_fingerprint:
            return
        self._conn = None
        self._old = {c for c in self._old if not c.finished}
        self._old.add(conn)
        if not conn.contexts_in_use:
            await conn.abort()

    def _check_fatal(self) -> None:
        if self._fatal is None:
            return
        key = self._api_key()
        key_changed = key is not None and key_fingerprint(key) != self._fatal_key
        cooled = time.monotonic() - self._fatal_at > self._failure_cooldown
        if key_changed or (cooled and not isinstance(self._fatal, AuthenticationError)):
            self._fatal = None
            return
        # The same error object is raised for every attempt: drop the traceback of the last
        # raise, or each one would chain its frames onto it and hold them for good.
        raise self._fatal.with_traceback(None)

    def _set_fatal(self, error: ProviderError, key: str) -> None:
        self._set_fatal_fingerprint(error, key_fingerprint(key))

    def _set_fatal_fingerprint(self, error: ProviderError, fingerprint: str) -> None:
        self._fatal, self._fatal_at, self._fatal_key = error, time.monotonic(), fingerprint

    async def _connect(self) -> _Connection:
        key = require_key(self._api_key)
        try:
            ws = await connect(
                self._url,
                additional_headers=auth_headers(key),
                open_timeout=self._open_timeout,
                max_size=_MAX_FRAME,
                close_timeout=2.0,
                user_agent_header="VoxTray",
                logger=_WIRE_LOG,
            )
        except InvalidStatus as exc:
            response = exc.response
            error = error_from_handshake(
                response.status_code,
                dict(response.headers.raw_items()),
                bytes(response.body),
                secret=key,
            )
            if isinstance(error, AuthenticationError | QuotaExceededError):
                self._set_fatal(error, key)
            raise error from exc
        except InvalidURI as exc:
            raise ProtocolError("The ElevenLabs stream address is not valid.") from exc
        except InvalidHandshake as exc:
            raise ProtocolError(
                redact(f"ElevenLabs did not accept the stream connection: {exc}.", key)
            ) from exc
        except TimeoutError as exc:
            raise ConnectionLostError("ElevenLabs could not be reached in time.") from exc
        except OSError as exc:
            raise ConnectionLostError(
                redact(f"ElevenLabs could not be reached: {exc.strerror or exc}.", key)
            ) from exc
        self.connections_opened += 1
        return _Connection(
            ws,
            secret=key,
            keepalive_interval=self._keepalive_interval,
            idle_timeout=self._idle_timeout,
            close_grace=self._close_grace,
            on_closed=self._connection_closed,
        )

    def _connection_closed(self, conn: _Connection, info: CloseInfo) -> None:
        if conn is self._conn:
            self._conn = None
        self._old = {c for c in self._old if not c.finished}
        self._old.add(conn)
        if self._closed or info.by_us:
            return
        if not info.had_audio and info.lifetime < self._quick_failure_window:
            # Closed right after the handshake: a refused key or plan. Retrying would only
            # repeat it (Pipecat's quick-failure rule); the provider falls back to HTTP.
            self.quick_failures += 1
            error = info.error or ServiceError("ElevenLabs closed the stream as soon as it opened.")
            self._set_fatal_fingerprint(error, conn.key_fingerprint)
            return
        if self._reconnector is None or self._reconnector.done():
            self._reconnector = asyncio.create_task(self._reconnect(), name="elevenlabs-ws-retry")

    async def _reconnect(self) -> None:
        for delay in self._reconnect_delays:
            await asyncio.sleep(delay)
            if self._closed or self._fatal is not None:
                return
            try:
                await self.start()
                return
            except ProviderError as exc:
                _LOG.debug("Reconnecting to ElevenLabs failed: %s", exc)
                if exc.is_permanent:
                    return

    async def speak(
        self, text: str, voice_settings: VoiceSettings | None = None
    ) -> AsyncGenerator[SocketAudio, None]:
        """Speak ``text`` in a new context; closing the iterator abandons the context."""
        new_connection = await self.start()
        conn = self._conn
        if conn is None:
            raise ConnectionLostError("The connection to ElevenLabs dropped.")
        context = await conn.open_context(voice_settings)
        self.contexts_opened += 1
        if not new_connection:
            self.contexts_on_warm_socket += 1
        finished = False
        try:
            await conn.say(context, text)
            got_audio = False
            while True:
                try:
                    async with asyncio.timeout(self._stall_timeout):
                        item = await context.frames.get()
                except TimeoutError as exc:
                    raise ConnectionLostError(
                        "ElevenLabs stopped sending audio (the stream stalled)."
                    ) from exc
                if isinstance(item, ProviderError):
                    finished = True  # the context is gone on the server side too
                    raise item
                if item.pcm:
                    got_audio = True
                    yield SocketAudio(item, new_connection)
                if item.is_final:
                    finished = True
                    break
            if not got_audio and text.strip():
                raise ServiceError(
                    "ElevenLabs finished the stream without any audio (the quota may be used up)."
                )
        finally:
            if not finished:
                # The listener left while the service was still generating: cut the socket
                # so it stops (and stops billing), and open a fresh one for the next request.
                await asyncio.shield(self._cut(conn))

    async def _cut(self, conn: _Connection) -> None:
        if conn is self._conn:
            self._conn = None
        self._old = {c for c in self._old if not c.finished}
        self._old.add(conn)
        await conn.abort()
        if not self._closed and (self._reconnector is None or self._reconnector.done()):
            self._reconnector = asyncio.create_task(self._reconnect(), name="elevenlabs-ws-warm")

    async def aclose(self) -> None:
        """Close the socket and cancel every task the session owns. Safe to call twice."""
        self._closed = True
        if self._reconnector is not None:
            self._reconnector.cancel()
            await asyncio.gather(self._reconnector, return_exceptions=True)
        conns = [c for c in (self._conn, *self._old) if c is not None]
        self._conn = None
        self._old.clear()
        for conn in conns:
            await conn.aclose()
