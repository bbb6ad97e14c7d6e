"""Keys, billing, concurrency and the request/connection logs, shared by the server and tests.

Every public method takes the one lock, so a test thread may read while the server loop writes.
Records are returned as copies (frozen snapshots), never the live objects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

from .catalog import TIER_CONCURRENCY, ConcurrencyGroup
from .protocol import fingerprint

RESET_PERIOD = 30 * 24 * 3600


@dataclass
class Account:
    key: str
    tier: str
    character_limit: int
    concurrency: int | None
    character_count: int = 0
    revoked: bool = False
    in_flight: dict[str, int] = field(default_factory=lambda: {"standard": 0, "turbo": 0})
    max_in_flight: int = 0
    reset_unix: int = field(default_factory=lambda: int(time.time()) + RESET_PERIOD)

    def limit(self, group: ConcurrencyGroup) -> int:
        if self.concurrency is not None:
            return self.concurrency
        return TIER_CONCURRENCY.get(self.tier, TIER_CONCURRENCY["free"])[group]

    @property
    def remaining(self) -> int:
        return max(0, self.character_limit - self.character_count)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP request (or WebSocket handshake, status 101) as the fake saw it."""

    id: int
    method: str
    path: str
    key_fingerprint: str
    status: int | None
    started: float
    """``time.monotonic()`` when the request arrived."""
    ended: float | None
    characters: int
    """Characters billed for this request."""
    closed_by_client: bool
    request_id: str | None = None


ContextState = Literal["open", "closing", "closed"]


@dataclass(frozen=True, slots=True)
class ContextRecord:
    context_id: str
    opened: float
    state: ContextState
    close_requested: float | None
    """When the client's ``close_context`` (or the socket's end) arrived."""
    closed: float | None
    """When the context ended: its final message was sent or the socket went away."""
    characters: int


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    id: int
    path: str
    multi: bool
    key_fingerprint: str
    opened: float
    closed: float | None
    close_code: int | None
    closed_by_client: bool
    contexts: dict[str, ContextRecord]


class FakeState:
    """The fake's mutable world."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {}
        self._requests: list[RequestRecord] = []
        self._connections: list[ConnectionRecord] = []

    # -- keys ---------------------------------------------------------------------------------

    def add_key(
        self,
        key: str,
        tier: str = "free",
        character_limit: int = 10_000,
        concurrency: int | None = None,
    ) -> None:
        if tier not in TIER_CONCURRENCY:
            raise ValueError(f"unknown tier {tier!r}; known: {', '.join(TIER_CONCURRENCY)}")
        with self._lock:
            self._accounts[key] = Account(key, tier, character_limit, concurrency)

    def revoke(self, key: str) -> None:
        with self._lock:
            self._accounts[key].revoked = True

    def set_concurrency(self, key: str, concurrency: int | None) -> None:
        with self._lock:
            self._accounts[key].concurrency = concurrency

    def exhaust_quota(self, key: str, remaining: int = 0) -> None:
        with self._lock:
            account = self._accounts[key]
            account.character_count = max(0, account.character_limit - remaining)

    def clear(self) -> None:
        with self._lock:
            self._accounts.clear()
            self._requests.clear()
            self._connections.clear()

    def account(self, key: str | None) -> Account | None:
        """The live account for a valid, unrevoked key (server thread only reads through this)."""
        if key is None:
            return None
        with self._lock:
            account = self._accounts.get(key)
            return None if account is None or account.revoked else account

    def subscription(self, key: str) -> dict[str, int | str]:
        with self._lock:
            a = self._accounts[key]
            return {
                "tier": a.tier,
                "character_count": a.character_count,
                "character_limit": a.character_limit,
                "next_character_count_reset_unix": a.reset_unix,
            }

    # -- billing and concurrency --------------------------------------------------------------

    def bill(self, key: str, characters: int, request: int | None = None) -> None:
        if characters <= 0:
            return
        with self._lock:
            self._accounts[key].character_count += characters
            if request is not None:
                record = self._requests[request]
                self._requests[request] = replace(record, characters=record.characters + characters)

    def billed(self, key: str) -> int:
        with self._lock:
            return self._accounts[key].character_count

    def try_acquire(self, key: str, group: ConcurrencyGroup) -> tuple[bool, int, int]:
        """Take a concurrency slot: (granted, current in the group after, limit)."""
        with self._lock:
            account = self._accounts[key]
            limit = account.limit(group)
            current = account.in_flight[group]
            if current >= limit:
                return False, current, limit
            account.in_flight[group] = current + 1
            total = sum(account.in_flight.values())
            account.max_in_flight = max(account.max_in_flight, total)
            return True, current + 1, limit

    def release(self, key: str, group: ConcurrencyGroup) -> None:
        with self._lock:
            account = self._accounts.get(key)
            if account is not None:
                account.in_flight[group] = max(0, account.in_flight[group] - 1)

    @contextmanager
    def slot(self, key: str, group: ConcurrencyGroup) -> Iterator[None]:
        try:
            yield
        finally:
            self.release(key, group)

    def in_flight(self, key: str, group: ConcurrencyGroup | None = None) -> int:
        with self._lock:
            account = self._accounts[key]
            return account.in_flight[group] if group else sum(account.in_flight.values())

    def max_in_flight(self, key: str) -> int:
        with self._lock:
            return self._accounts[key].max_in_flight

    # -- request log --------------------------------------------------------------------------

    def open_request(self, method: str, path: str, key: str | None) -> int:
        with self._lock:
            index = len(self._requests)
            self._requests.append(
                RequestRecord(
                    index, method, path, fingerprint(key), None, time.monotonic(), None, 0, False
                )
            )
            return index

    def update_request(self, index: int, **changes: object) -> None:
        with self._lock:
            self._requests[index] = replace(self._requests[index], **changes)  # type: ignore[arg-type]

    def close_request(self, index: int, *, closed_by_client: bool = False) -> None:
        with self._lock:
            record = self._requests[index]
            if record.ended is None:
                self._requests[index] = replace(
                    record,
                    ended=time.monotonic(),
                    closed_by_client=record.closed_by_client or closed_by_client,
                )

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    # -- WebSocket log ------------------------------------------------------------------------

    def open_connection(self, path: str, multi: bool, key: str | None) -> int:
        with self._lock:
            index = len(self._connections)
            self._connections.append(
                ConnectionRecord(
                    index, path, multi, fingerprint(key), time.monotonic(), None, None, False, {}
                )
            )
            return index

    def set_connection_key(self, index: int, key: str) -> None:
        with self._lock:
            self._connections[index] = replace(
                self._connections[index], key_fingerprint=fingerprint(key)
            )

    def close_connection(self, index: int, code: int | None, *, closed_by_client: bool) -> None:
        now = time.monotonic()
        with self._lock:
            record = self._connections[index]
            if record.closed is not None:
                return
            contexts = {
                cid: (
                    c
                    if c.state == "closed"
                    else replace(
                        c, state="closed", closed=now, close_requested=c.close_requested or now
                    )
                )
                for cid, c in record.contexts.items()
            }
            self._connections[index] = replace(
                record,
                closed=now,
                close_code=code,
                closed_by_client=closed_by_client,
                contexts=contexts,
            )

    def context_event(
        self,
        connection: int,
        context_id: str,
        *,
        state: ContextState | None = None,
        characters: int = 0,
    ) -> None:
        now = time.monotonic()
        with self._lock:
            record = self._connections[connection]
            contexts = dict(record.contexts)
            ctx = contexts.get(context_id)
            if ctx is None or (ctx.state == "closed" and state == "open"):
                ctx = ContextRecord(context_id, now, "open", None, None, 0)
            if state == "closing" and ctx.state == "open":
                ctx = replace(ctx, state="closing", close_requested=now)
            elif state == "closed" and ctx.state != "closed":
                ctx = replace(
                    ctx, state="closed", closed=now, close_requested=ctx.close_requested or now
                )
            if characters:
                ctx = replace(ctx, characters=ctx.characters + characters)
            contexts[context_id] = ctx
            self._connections[connection] = replace(record, contexts=contexts)

    @property
    def connections(self) -> list[ConnectionRecord]:
        with self._lock:
            return list(self._connections)
