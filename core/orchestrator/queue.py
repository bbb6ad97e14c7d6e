"""The narrator's one queue: priorities, FIFO within a priority, "read now", and removal.

A heap would make removal of an arbitrary entry awkward (cancelling the third item of the queue
from the tray menu is ordinary here), and the queue of a narrator holds a handful of entries, so
it is a plain list kept in order; every operation is O(n) on a tiny n and trivially correct.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..model import RequestId, SpeakRequest


@dataclass(slots=True)
class QueueEntry:
    """A request waiting to be spoken, with what the engine needs to account for it."""

    request_id: RequestId
    request: SpeakRequest
    submitted_at: float
    """``time.monotonic()`` of ``speak()``: time to first audio counts from here."""
    _order: tuple[int, int] = field(default=(0, 0), repr=False)


class RequestQueue:
    """Waiting requests in the order they will play.

    Order: "read now" requests (``interrupt=True``) first, the latest of them first (the user
    just asked for it); then by priority; FIFO within a priority.
    """

    def __init__(self) -> None:
        self._entries: list[QueueEntry] = []
        self._sequence = itertools.count()
        self._not_empty = asyncio.Event()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[QueueEntry]:
        return iter(list(self._entries))

    def __contains__(self, request_id: object) -> bool:
        return any(entry.request_id == request_id for entry in self._entries)

    def put(self, entry: QueueEntry) -> int:
        """Add an entry; returns its position (0 plays next)."""
        sequence = next(self._sequence)
        if entry.request.interrupt:
            entry._order = (-1, -sequence)
        else:
            entry._order = (int(entry.request.priority), sequence)
        position = 0
        while position < len(self._entries) and self._entries[position]._order < entry._order:
            position += 1
        self._entries.insert(position, entry)
        self._not_empty.set()
        return position

    async def get(self) -> QueueEntry:
        """Wait for and take the entry that plays next."""
        while not self._entries:
            self._not_empty.clear()
            await self._not_empty.wait()
        entry = self._entries.pop(0)
        if not self._entries:
            self._not_empty.clear()
        return entry

    def remove(self, request_id: RequestId) -> QueueEntry | None:
        for index, entry in enumerate(self._entries):
            if entry.request_id == request_id:
                del self._entries[index]
                return entry
        return None

    def clear(self) -> list[QueueEntry]:
        """Take every waiting entry out, in play order."""
        entries, self._entries = self._entries, []
        self._not_empty.clear()
        return entries

    def position(self, request_id: RequestId) -> int | None:
        for index, entry in enumerate(self._entries):
            if entry.request_id == request_id:
                return index
        return None
