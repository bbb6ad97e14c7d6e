"""The request queue: priorities, FIFO within a priority, read-now, removal."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st
from voxtray.core.model import Priority, RequestId, SpeakRequest
from voxtray.core.orchestrator.queue import QueueEntry, RequestQueue


def entry(n: int, priority: Priority = Priority.NORMAL, interrupt: bool = False) -> QueueEntry:
    request = SpeakRequest(text=f"request {n}", priority=priority, interrupt=interrupt)
    return QueueEntry(RequestId(n), request, submitted_at=0.0)


def order(queue: RequestQueue) -> list[int]:
    return [int(e.request_id) for e in queue]


def test_priorities_then_fifo() -> None:
    queue = RequestQueue()
    queue.put(entry(1, Priority.LOW))
    queue.put(entry(2))
    queue.put(entry(3, Priority.HIGH))
    queue.put(entry(4))
    queue.put(entry(5, Priority.HIGH))
    assert order(queue) == [3, 5, 2, 4, 1]


def test_read_now_goes_first_latest_first() -> None:
    queue = RequestQueue()
    queue.put(entry(1, Priority.HIGH))
    assert queue.put(entry(2, Priority.LOW, interrupt=True)) == 0
    assert queue.put(entry(3, Priority.LOW, interrupt=True)) == 0
    assert order(queue) == [3, 2, 1]


def test_remove_and_clear() -> None:
    queue = RequestQueue()
    for n in range(1, 5):
        queue.put(entry(n))
    removed = queue.remove(RequestId(3))
    assert removed is not None and removed.request_id == 3
    assert queue.remove(RequestId(3)) is None
    assert RequestId(3) not in queue
    assert queue.position(RequestId(4)) == 2
    assert [int(e.request_id) for e in queue.clear()] == [1, 2, 4]
    assert len(queue) == 0


async def test_get_waits_for_put() -> None:
    queue = RequestQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.put(entry(7))
    got = await asyncio.wait_for(getter, timeout=1)
    assert got.request_id == 7


async def test_get_after_clear_waits_again() -> None:
    queue = RequestQueue()
    queue.put(entry(1))
    queue.clear()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    getter.cancel()
    await asyncio.gather(getter, return_exceptions=True)


@given(st.lists(st.tuples(st.sampled_from(list(Priority)), st.booleans()), max_size=30))
def test_order_matches_reference(specs: list[tuple[Priority, bool]]) -> None:
    queue = RequestQueue()
    for n, (priority, interrupt) in enumerate(specs):
        queue.put(entry(n, priority, interrupt))
    expected = sorted(
        range(len(specs)),
        key=lambda n: (-1, -n) if specs[n][1] else (int(specs[n][0]), n),
    )
    assert order(queue) == expected
