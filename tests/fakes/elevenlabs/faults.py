"""Behaviour switches (``FakeConfig``) and one-shot fault injection (``Faults``), both thread-safe.

``FakeConfig`` holds settings that stay until changed (error shape, key spellings, clock scale).
``Faults`` holds pacing (latency, gaps, chunk size) and *armed* faults that fire on the next K
matching requests and then disarm themselves. A test arms a fault from its own thread; the server
loop consumes it when a request starts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .protocol import ErrorFormat

Transport = Literal["http", "ws", "any"]
Mode = Literal["speech", "tone"]


@dataclass
class FakeConfig:
    """Switchable behaviour; change it through ``FakeElevenLabs.configure(**changes)``."""

    mode: Mode = "speech"
    error_format: ErrorFormat = "legacy"
    voice_not_found_status: int = 404
    context_id_key: Literal["contextId", "context_id"] = "contextId"
    final_key: Literal["isFinal", "is_final"] = "isFinal"
    durations_key: Literal["charDurationsMs", "charsDurationsMs"] = "charDurationsMs"
    concurrency_retry_after: float | None = None
    """``Retry-After`` on the concurrency 429 (None: the header is left out, as by default)."""
    concurrency_queue_seconds: float = 0.0
    """Over the limit, wait up to this long for a slot before answering 429 (the docs' queue)."""
    inactivity_time_scale: float = 1.0
    """Real seconds per nominal second of ``inactivity_timeout`` (0.01 makes 20 s last 0.2 s)."""
    context_close_delay: float = 0.05
    """Seconds between a ``close_context`` and the context's final message (async close)."""
    tone_seconds_per_char: float = 0.05
    ws_auth_failure: Literal["frame", "handshake"] = "frame"
    """A bad key on a socket: error frame + close 1008 after the handshake, or HTTP 401 at it."""
    ws_quota_failure: Literal["silent", "frame"] = "silent"
    """An exhausted quota on a socket: ``isFinal`` with null audio (observed), or an error frame."""
    flush_done: bool = False
    """Send ``{"type":"flush_done"}`` after a multi-context flush (shape UNCONFIRMED)."""
    account_latency: float = 0.0
    """Seconds ``GET /v1/user/subscription`` takes to answer (a slow account service)."""

    def update(self, **changes: Any) -> None:
        names = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise TypeError(f"FakeConfig has no setting {name!r}")
            setattr(self, name, value)


@dataclass
class _Armed:
    kind: str
    count: int
    transport: Transport
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestFaults:
    """The faults one request drew when it started (a snapshot; later changes do not affect it)."""

    latency: float = 0.0
    chunk_gap: float = 0.0
    chunk_seconds: float = 0.1
    pace: float | None = None
    drop_after_bytes: int | None = None
    drop_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    error_status: int | None = None
    busy_code: str | None = None
    retry_after: float | None = None
    malformed_after_chunks: int | None = None
    silent_success: bool = False
    null_alignment_every: int = 0


class Faults:
    """Fault controls for the next requests. Every method is safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._latency: float = 0.0
            self._latencies: list[float] = []
            self._chunk_gap = 0.0
            self._chunk_seconds = 0.1
            self._pace: float | None = None
            self._null_alignment_every = 0
            self._armed: list[_Armed] = []

    # -- pacing (persistent) ------------------------------------------------------------------

    def set_latency(self, seconds: float | Sequence[float]) -> None:
        """Time to first byte: a fixed value, or one value per coming request (then 0)."""
        with self._lock:
            if isinstance(seconds, int | float):
                self._latency, self._latencies = float(seconds), []
            else:
                self._latency, self._latencies = 0.0, [float(s) for s in seconds]

    def set_chunk_gap(self, seconds: float) -> None:
        """Pause between consecutive audio chunks (HTTP body writes, WS audio messages)."""
        with self._lock:
            self._chunk_gap = seconds

    def set_chunk_seconds(self, seconds: float) -> None:
        """Audio per chunk (default 0.1 s); bytes per chunk = seconds × rate × 2."""
        if seconds <= 0:
            raise ValueError("chunk duration must be positive")
        with self._lock:
            self._chunk_seconds = seconds

    def set_pace(self, speed: float | None) -> None:
        """Send audio no faster than ``speed`` × real time (None: as fast as synthesized)."""
        with self._lock:
            self._pace = speed

    def null_alignment(self, every: int = 1) -> None:
        """Every ``every``-th audio chunk carries null alignments (0: never)."""
        with self._lock:
            self._null_alignment_every = every

    # -- armed, one-shot faults ---------------------------------------------------------------

    def _arm(self, kind: str, count: int, transport: Transport, **params: Any) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._armed.append(_Armed(kind, count, transport, params))

    def drop_after(
        self,
        *,
        bytes: int | None = None,
        chunks: int | None = None,
        count: int = 1,
        transport: Transport = "any",
    ) -> None:
        """Abort the TCP connection after ``bytes`` of body / ``chunks`` audio chunks (HTTP: a
        truncated chunked body; WS: no close frame, the client sees 1006)."""
        if bytes is None and chunks is None:
            raise ValueError("give bytes or chunks")
        self._arm("drop", count, transport, bytes=bytes, chunks=chunks)

    def stall(self, *, count: int = 1, after_chunks: int = 0, transport: Transport = "any") -> None:
        """Send headers (and ``after_chunks`` chunks), then nothing until the client gives up."""
        self._arm("stall", count, transport, after_chunks=after_chunks)

    def server_error(self, *, count: int = 1, status: int = 500) -> None:
        """HTTP: answer ``status`` with an error body. WS: close 1008 "something went wrong"."""
        self._arm("server_error", count, "any", status=status)

    def busy(
        self,
        *,
        count: int = 1,
        code: Literal["system_busy", "rate_limit_exceeded"] = "system_busy",
        retry_after: float | None = None,
    ) -> None:
        """HTTP 429 ``system_busy`` / ``rate_limit_exceeded``, with ``Retry-After`` if given."""
        self._arm("busy", count, "http", code=code, retry_after=retry_after)

    def malformed(
        self, *, count: int = 1, after_chunks: int = 1, transport: Transport = "any"
    ) -> None:
        """After ``after_chunks`` chunks, one garbage frame (WS: invalid JSON; NDJSON: a garbage
        line). Raw ``/stream`` bodies have no framing and are unaffected."""
        self._arm("malformed", count, transport, after_chunks=after_chunks)

    def silent_success(self, *, count: int = 1) -> None:
        """WS: the next generation answers ``isFinal`` with null audio and no error."""
        self._arm("silent", count, "ws")

    # -- drawing ------------------------------------------------------------------------------

    def draw(self, transport: Literal["http", "ws"]) -> RequestFaults:
        """The faults for a request starting now; uses up one of each matching armed fault."""
        with self._lock:
            latency = self._latencies.pop(0) if self._latencies else self._latency
            found: dict[str, dict[str, Any]] = {}
            for armed in self._armed:
                if armed.kind in found or armed.transport not in ("any", transport):
                    continue
                found[armed.kind] = armed.params
                armed.count -= 1
            self._armed = [a for a in self._armed if a.count > 0]
            drop = found.get("drop", {})
            busy = found.get("busy")
            return RequestFaults(
                latency=latency,
                chunk_gap=self._chunk_gap,
                chunk_seconds=self._chunk_seconds,
                pace=self._pace,
                drop_after_bytes=drop.get("bytes"),
                drop_after_chunks=drop.get("chunks"),
                stall_after_chunks=found["stall"]["after_chunks"] if "stall" in found else None,
                error_status=found["server_error"]["status"] if "server_error" in found else None,
                busy_code=busy["code"] if busy else None,
                retry_after=busy["retry_after"] if busy else None,
                malformed_after_chunks=(
                    found["malformed"]["after_chunks"] if "malformed" in found else None
                ),
                silent_success="silent" in found,
                null_alignment_every=self._null_alignment_every,
            )
