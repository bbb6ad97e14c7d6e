"""Staying within a service's limits: concurrency (AIMD), backoff, and a circuit breaker.

A cloud plan allows a fixed number of generations in flight per key. The app must never be the
cause of a burst of 429s, so every request takes a slot from one :class:`ConcurrencyLimiter` per
key. If the service still answers "too many concurrent requests" (another app uses the same
key, or the plan changed), the limit is halved at once and grows back by one slot after a run of
successes: additive increase, multiplicative decrease, as TCP does with its window.

:class:`Backoff` spaces retries of transient failures (exponential, with jitter so that several
clients do not retry in step, and a ``Retry-After`` from the server always wins).

:class:`CircuitBreaker` stops sending requests to a service that keeps failing, so a user with a
dead network hears the local voice at once instead of a timeout per sentence; after a cool-down
one request is let through to see whether the service is back.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from enum import Enum


class ConcurrencyLimiter:
    """At most ``limit`` requests in flight; the limit adapts to the service's answers."""

    def __init__(self, limit: int, *, minimum: int = 1, increase_after: int | None = None) -> None:
        if limit < 1 or minimum < 1:
            raise ValueError("limits must be at least 1")
        self._ceiling = limit
        self._limit = float(limit)
        self._minimum = minimum
        self._increase_after = increase_after
        self._in_flight = 0
        self._successes = 0
        self._changed = asyncio.Event()
        self.rejections = 0
        """How many times the service said the limit was exceeded."""
        self.high_water = 0
        """The most requests ever in flight at once (tests check it never exceeds the plan)."""

    @property
    def limit(self) -> int:
        """The limit in force now."""
        return max(self._minimum, int(self._limit))

    @property
    def ceiling(self) -> int:
        """The plan's limit: the effective limit never grows past it."""
        return self._ceiling

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def set_ceiling(self, limit: int) -> None:
        """The plan is known (or changed): start from its limit."""
        if limit < 1:
            raise ValueError("limits must be at least 1")
        self._ceiling = limit
        self._limit = float(limit)
        self._wake()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` slots for the duration of a request."""
        while self._in_flight >= self.limit:
            self._changed.clear()
            await self._changed.wait()
        self._in_flight += 1
        self.high_water = max(self.high_water, self._in_flight)
        try:
            yield
        finally:
            self._in_flight -= 1
            self._wake()

    def on_success(self) -> None:
        """A request went through: after a run of them, allow one more in flight."""
        self._successes += 1
        if self._successes >= (self._increase_after or self.limit) and self._limit < self._ceiling:
            self._limit = min(float(self._ceiling), self._limit + 1)
            self._successes = 0
            self._wake()

    def on_concurrency_rejected(self) -> None:
        """The service refused a request for concurrency: halve the limit now."""
        self.rejections += 1
        self._successes = 0
        self._limit = max(float(self._minimum), self._limit / 2)

    def _wake(self) -> None:
        self._changed.set()


class Backoff:
    """Delays between attempts: exponential with full jitter, capped; Retry-After wins."""

    def __init__(
        self,
        *,
        base: float = 0.5,
        cap: float = 20.0,
        rng: random.Random | None = None,
    ) -> None:
        self._base = base
        self._cap = cap
        self._rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), 120.0)
        ceiling = min(self._cap, self._base * 2 ** (attempt - 1))
        # Never less than a quarter of the ceiling: "full jitter" that can draw ~0 would turn
        # a retry into an immediate hammer on a service that just said it is busy.
        return self._rng.uniform(ceiling / 4, ceiling)


class BreakerState(Enum):
    CLOSED = "closed"  # requests flow
    OPEN = "open"  # failing: requests go elsewhere until the cool-down is over
    HALF_OPEN = "half-open"  # one trial request is allowed


class CircuitBreaker:
    """Opens after ``threshold`` failures in a row; tries again after ``cool_down`` seconds."""

    def __init__(
        self,
        *,
        threshold: int = 3,
        cool_down: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cool_down = cool_down
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cool_down:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def retry_in(self) -> float | None:
        """Seconds until the next trial request while open; ``None`` otherwise."""
        if self._opened_at is None:
            return None
        return max(0.0, self._opened_at + self._cool_down - self._clock()) or None

    def allow(self) -> bool:
        """Whether a request may go to the service now (half-open: one trial at a time)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_out = False

    def record_failure(self) -> None:
        self._failures += 1
        self._trial_out = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()

    def trip(self) -> None:
        """Open at once (the key was refused, the quota is gone: no point in trying)."""
        self._failures = self._threshold
        self._opened_at = self._clock()
        self._trial_out = False
