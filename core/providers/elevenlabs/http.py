"""The HTTP shell: one long-lived ``httpx.AsyncClient`` around the sans-I/O protocol.

This is the only module that imports httpx. It sends :class:`~.api.HttpRequest` values, streams
bodies as they arrive and translates every httpx exception into the error tree
(``raise … from exc``). It decides nothing about the protocol.

* **Connection reuse.** One client per provider keeps its HTTP/1.1 keep-alive pool warm (HTTP/2
  would need the ``h2`` package; one audio stream per connection costs nothing here). Opened
  TCP connections are counted through httpcore's ``trace`` request extension, so
  ``connections_opened`` and ``connections_reused`` are facts, not guesses.
* **Timeouts.** ``connect_timeout`` for the TCP and TLS handshake; ``stall_timeout`` for any
  wait on the network once connected (headers, or the next piece of the body). Both become
  :class:`~voxtray.core.errors.ConnectionLostError`.
* **Cancellation.** Leaving :meth:`HttpSession.stream` before the body is complete (an
  exception, ``aclose()`` of the consumer, or task cancellation) closes the response and so the
  connection: the server sees the client go and stops generating, and billing.
* **The key** is read from ``api_key()`` for each request and put only into the ``xi-api-key``
  header; error messages pass through :func:`~.api.redact` with it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from ...errors import AuthenticationError, ConnectionLostError, ProtocolError, ProviderError
from .api import HttpRequest, auth_headers, redact
from .errors import ResponseInfo, error_from_response, parse_response_headers
from .frames import CharacterAlignment, NdjsonDecoder, PcmAssembler

MAX_ERROR_BODY = 64 * 1024
_CONNECT_EVENTS = frozenset(
    {"connection.connect_tcp.complete", "connection.connect_unix_socket.complete"}
)


def require_key(api_key: Callable[[], str | None]) -> str:
    """The current key, or the error that tells the user to set one."""
    key = api_key()
    if not key:
        raise AuthenticationError(
            "No ElevenLabs API key is set: run `voxtray key set elevenlabs` or add one in the "
            "settings."
        )
    return key


def _lost(exc: httpx.HTTPError, secret: str | None) -> ProviderError:
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectionLostError("ElevenLabs could not be reached in time (connect timeout).")
    if isinstance(exc, httpx.TimeoutException):
        return ConnectionLostError("ElevenLabs stopped sending data (the stream stalled).")
    if isinstance(exc, httpx.ConnectError):
        return ConnectionLostError(
            redact(f"ElevenLabs could not be reached: {exc or 'connection refused'}.", secret)
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return ConnectionLostError("The connection to ElevenLabs dropped in the middle of a reply.")
    if isinstance(exc, httpx.DecodingError):
        return ProtocolError("ElevenLabs sent a reply that could not be decoded.")
    return ConnectionLostError(redact(f"The connection to ElevenLabs failed: {exc}.", secret))


class StreamingResponse:
    """A 2xx streaming response: its headers at once, its body as it arrives."""

    def __init__(self, response: httpx.Response, secret: str, new_connection: bool) -> None:
        self._response = response
        self._secret = secret
        self.info: ResponseInfo = parse_response_headers(response.headers)
        self.new_connection = new_connection
        """Whether this request had to open a TCP connection (else it reused a pooled one)."""
        self.complete = False
        """Whether the whole body was read (a request id is usable for stitching only then)."""

    async def aiter_audio(
        self, *, timestamped: bool
    ) -> AsyncGenerator[tuple[bytes, CharacterAlignment | None], None]:
        """PCM in whole 16-bit samples, as soon as it arrives, with its alignment if any.

        ``timestamped``: the body is NDJSON (``/stream/with-timestamps``), else raw PCM. A lone
        trailing byte would be half a sample: it is dropped, and the audio stays valid.
        """
        samples = PcmAssembler()
        lines = NdjsonDecoder() if timestamped else None
        try:
            async for data in self._response.aiter_bytes():
                if lines is None:
                    if pcm := samples.feed(data):
                        yield pcm, None
                    continue
                for item in lines.feed(data):
                    yield samples.feed(item.pcm), item.alignment
        except httpx.HTTPError as exc:
            raise _lost(exc, self._secret) from exc
        if lines is not None:
            for item in lines.end():
                yield samples.feed(item.pcm), item.alignment
        self.complete = True


class HttpSession:
    """The provider's one HTTP client (connection pool) to the ElevenLabs REST API."""

    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str | None],
        *,
        connect_timeout: float = 10.0,
        stall_timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = "VoxTray",
    ) -> None:
        self._api_key = api_key
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(
                connect=connect_timeout, read=stall_timeout, write=stall_timeout, pool=None
            ),
            limits=httpx.Limits(max_connections=None, keepalive_expiry=120.0),
            transport=transport,
            headers={"user-agent": user_agent},
            follow_redirects=False,
            trust_env=True,
        )
        self.connections_opened = 0
        self.connections_reused = 0

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    def _request(self, request: HttpRequest, key: str) -> tuple[httpx.Request, list[bool]]:
        opened: list[bool] = []

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event in _CONNECT_EVENTS:
                opened.append(True)
                self.connections_opened += 1

        built = self._client.build_request(
            request.method,
            request.path,
            params=list(request.params),
            json=request.body,
            headers={**auth_headers(key), "accept": request.accept},
            extensions={"trace": trace},
        )
        return built, opened

    async def _send(self, request: HttpRequest, key: str) -> tuple[httpx.Response, bool]:
        built, opened = self._request(request, key)
        try:
            response = await self._client.send(built, stream=True)
        except httpx.HTTPError as exc:
            raise _lost(exc, key) from exc
        if not opened:
            self.connections_reused += 1
        if response.is_success:
            return response, bool(opened)
        try:
            body = await self._read_capped(response)
        finally:
            await response.aclose()
        raise error_from_response(response.status_code, response.headers, body, secret=key)

    @staticmethod
    async def _read_capped(response: httpx.Response) -> bytes:
        body = bytearray()
        try:
            async for data in response.aiter_bytes():
                body += data
                if len(body) >= MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass  # the status alone still says what went wrong
        return bytes(body)

    async def get_json(self, request: HttpRequest) -> Any:
        """Send a small request and decode its JSON answer."""
        key = require_key(self._api_key)
        response, _ = await self._send(request, key)
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            raise _lost(exc, key) from exc
        finally:
            await response.aclose()
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError("ElevenLabs sent an answer that is not JSON.") from exc

    @asynccontextmanager
    async def stream(self, request: HttpRequest) -> AsyncIterator[StreamingResponse]:
        """Send a request and stream its body; leaving the block early aborts the request."""
        key = require_key(self._api_key)
        response, new_connection = await self._send(request, key)
        try:
            kind = (response.headers.get("content-type") or "").lower()
            if kind.startswith(("text/html", "application/json")) and request.accept == "audio/*":
                raise ProtocolError(f"ElevenLabs answered with {kind.split(';')[0]}, not audio.")
            yield StreamingResponse(response, key, new_connection)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
