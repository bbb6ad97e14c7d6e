"""Concurrency limiter (AIMD), backoff and circuit breaker."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from voxtray.core.orchestrator.limits import (
    Backoff,
    BreakerState,
    CircuitBreaker,
    ConcurrencyLimiter,
)


async def test_never_more_in_flight_than_the_limit() -> None:
    limiter = ConcurrencyLimiter(3)
    running = 0
    peak = 0

    async def request() -> None:
        nonlocal running, peak
        async with limiter.slot():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(request() for _ in range(20)))
    assert peak == 3
    assert limiter.high_water == 3
    assert limiter.in_flight == 0


async def test_rejection_halves_and_success_grows_back() -> None:
    limiter = ConcurrencyLimiter(8, increase_after=2)
    limiter.on_concurrency_rejected()
    assert limiter.limit == 4
    limiter.on_concurrency_rejected()
    limiter.on_concurrency_rejected()
    limiter.on_concurrency_rejected()
    assert limiter.limit == 1  # never below the minimum
    for _ in range(2):
        limiter.on_success()
    assert limiter.limit == 2
    for _ in range(100):
        limiter.on_success()
    assert limiter.limit == 8  # never above the plan


async def test_a_lowered_limit_makes_new_requests_wait_for_ours() -> None:
    limiter = ConcurrencyLimiter(2)
    release = asyncio.Event()
    entered = []

    async def request(n: int) -> None:
        async with limiter.slot():
            entered.append(n)
            await release.wait()

    first = [asyncio.ensure_future(request(n)) for n in (1, 2)]
    await asyncio.sleep(0)
    limiter.on_concurrency_rejected()  # now 1: both in flight must finish before a third starts
    third = asyncio.ensure_future(request(3))
    await asyncio.sleep(0.01)
    assert entered == [1, 2]
    release.set()
    await asyncio.gather(*first, third)
    assert entered == [1, 2, 3]


def test_set_ceiling_from_the_plan() -> None:
    limiter = ConcurrencyLimiter(2)
    limiter.set_ceiling(10)
    assert (limiter.limit, limiter.ceiling) == (10, 10)
    with pytest.raises(ValueError, match="at least 1"):
        limiter.set_ceiling(0)


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=2**32))
def test_backoff_grows_is_capped_and_jittered(attempt: int, seed: int) -> None:
    backoff = Backoff(base=0.5, cap=20.0, rng=random.Random(seed))
    delay = backoff.delay(attempt)
    ceiling = min(20.0, 0.5 * 2 ** (attempt - 1))
    assert ceiling / 4 <= delay <= ceiling


def test_retry_after_wins() -> None:
    assert Backoff().delay(1, retry_after=7.5) == 7.5
    assert Backoff().delay(5, retry_after=0.0) == 0.0


def test_breaker_opens_after_failures_and_half_opens_after_cool_down() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cool_down=10.0, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # one trial at a time
    breaker.record_failure()  # the trial failed: open again, for another cool-down
    assert breaker.state is BreakerState.OPEN
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_trip_opens_at_once() -> None:
    breaker = CircuitBreaker(threshold=5, cool_down=60.0, clock=lambda: 0.0)
    breaker.trip()
    assert not breaker.allow()
