"""A request's text, readable again from any offset: what rewinding and jumping stand on.

A document is a stream (a 50 MB file is never held whole), but a listener rewinds a sentence,
a paragraph or a chapter, clicks a sentence in the reading window, or changes speed mid-book:
each time speech starts over from an offset. :class:`SeekableText` keeps the text it has read
(up to ``keep_chars``, dropping the oldest), so recent positions come back without touching the
file; a position further back opens the document again and reads forward to it.

Reading happens on the scheduler's reader thread (and, for a forward search, on another thread),
so the stream and the kept text are guarded by one lock. Only the newest iterator returned by
:meth:`pieces_from` reads: an older one (of an abandoned run) stops at its next step.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

from .document import Chapter
from .segment import HARD_BREAK

__all__ = ["SeekableText", "TextOpener"]

DEFAULT_KEEP_CHARS = 4_000_000
"""About a whole novel (4–16 MB of memory): rewinds within a book never reopen the file."""


class TextOpener(Protocol):
    def __call__(self, *, again: bool) -> Iterator[str]:
        """A fresh stream of the text from its start; ``again`` for every open after the first
        (warnings about the file were given the first time)."""
        ...


class SeekableText:
    """The text of one request: kept as it is read, re-readable from any offset."""

    def __init__(
        self,
        opener: TextOpener,
        *,
        first: Iterator[str] | None = None,
        keep_chars: int = DEFAULT_KEEP_CHARS,
        on_text: Callable[[int, str], None] | None = None,
        on_chapter: Callable[[int, Chapter], None] | None = None,
        on_end: Callable[[int], None] | None = None,
    ) -> None:
        """``first`` is the stream already opened (the worker opens it off the loop to report
        a bad file at once); ``on_text``/``on_chapter`` are called on the reading thread, and
        ``on_end`` (with the text's length) once, the first time the end is reached."""
        self._opener = opener
        self._stream: Iterator[str] | None = first
        self._keep_chars = keep_chars
        self._on_text = on_text
        self._on_chapter = on_chapter
        self._on_end = on_end
        self._lock = threading.RLock()
        self._kept: deque[tuple[int, str]] = deque()
        self._kept_chars = 0
        self._read_end = 0
        self._high_water = 0
        self._complete = False
        self._chapters: list[Chapter] = []
        self._chapters_view: tuple[Chapter, ...] = ()
        self._seen_in_stream = 0
        self._generation = 0
        self._closed = False

    # -- what is known ----------------------------------------------------------------------

    @property
    def read_end(self) -> int:
        """Offset up to which the text has been read."""
        return self._read_end

    @property
    def complete(self) -> bool:
        """Whether the whole text has been read (``read_end`` is then its length)."""
        return self._complete

    @property
    def chapters(self) -> list[Chapter]:
        """The chapters found so far, in order (never waits for the reading thread)."""
        return list(self._chapters_view)

    def text(self, start: int, end: int) -> str | None:
        """``text[start:end]`` if all of it is kept, else None."""
        with self._lock:
            if not self._kept or start < self._kept[0][0] or end > self._read_end:
                return None
            parts = []
            for at, piece in self._kept:
                if at + len(piece) <= start:
                    continue
                if at >= end:
                    break
                parts.append(piece[max(0, start - at) : end - at])
            return "".join(parts)

    def kept_start(self) -> int:
        with self._lock:
            return self._kept[0][0] if self._kept else self._read_end

    # -- reading ------------------------------------------------------------------------------

    def pieces_from(self, offset: int) -> Iterator[str]:
        """The text from ``offset`` on, as pieces; it makes every older iterator stop.

        Never waits for the lock (it is called on the event loop, while an abandoned run's
        reader may still be inside a slow read): only the loop changes the generation."""
        self._generation += 1
        return self._pieces(offset, self._generation)

    def read_until(self, done: Callable[[], bool], *, limit: int | None = None) -> bool:
        """Read on (blocking: call it off the loop) until ``done()`` or the end of the text, or
        until ``limit`` more characters were read. Returns ``done()``."""
        with self._lock:
            stop_at = None if limit is None else self._read_end + limit
            while not done() and not self._complete and not self._closed:
                if stop_at is not None and self._read_end >= stop_at:
                    break
                self._read_one()
            return done()

    def have(self, start: int, end: int) -> None:
        """Make ``text[start:end]`` kept, as far as the text goes (blocking: off the loop),
        reading on, or from the beginning again for a position no longer kept."""
        with self._lock:
            if start < self.kept_start():
                self._reopen()
            while self._read_end < end and not self._complete and not self._closed:
                self._read_one()

    def close(self) -> None:
        """Release the file; never waits: a reader inside a slow read closes it after."""
        self._closed = True
        self._generation += 1
        if self._lock.acquire(blocking=False):
            try:
                self._close_stream()
            finally:
                self._lock.release()

    def _pieces(self, offset: int, generation: int) -> Iterator[str]:
        position = max(0, offset)
        while True:
            with self._lock:
                if self._closed:
                    self._close_stream()
                    return
                if generation != self._generation:
                    return
                if position < self.kept_start():
                    self._reopen()
                while self._read_end <= position and not self._complete:
                    self._read_one()
                piece = self.text(position, self._read_end) if position < self._read_end else None
            if piece is None:
                return  # the end of the text
            yield piece
            position += len(piece)

    def _read_one(self) -> None:
        """Read the next piece of the stream into the kept text (lock held)."""
        if self._stream is None:
            self._stream = self._opener(again=self._high_water > 0)
            self._seen_in_stream = 0
        try:
            piece = next(self._stream)
        except StopIteration:
            self._complete = True
            on_end, self._on_end = self._on_end, None  # once: the length is the same each time
            if on_end is not None:
                on_end(self._read_end)
            return
        start = self._read_end
        self._kept.append((start, piece))
        self._kept_chars += len(piece)
        self._read_end += len(piece)
        while len(self._kept) > 1 and self._kept_chars - len(self._kept[0][1]) >= self._keep_chars:
            self._kept_chars -= len(self._kept.popleft()[1])
        self._note_chapters()
        if self._read_end > self._high_water:
            fresh_from = max(start, self._high_water)
            self._high_water = self._read_end
            if self._on_text is not None:
                self._on_text(fresh_from, piece[fresh_from - start :])

    def _note_chapters(self) -> None:
        found: list[Chapter] = getattr(self._stream, "chapters", [])
        for chapter in found[self._seen_in_stream :]:
            known = [c.offset for c in self._chapters]
            if chapter.offset not in known:
                index = bisect_right(known, chapter.offset)
                self._chapters.insert(index, chapter)
                self._chapters_view = tuple(self._chapters)
                if self._on_chapter is not None:
                    self._on_chapter(index, chapter)
        self._seen_in_stream = len(found)

    def _reopen(self) -> None:
        """Start reading from the beginning again (lock held): the position was dropped."""
        self._close_stream()
        self._kept.clear()
        self._kept_chars = 0
        self._read_end = 0
        self._complete = False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def paragraph_start(text: str, position: int) -> int:
    """Where the paragraph holding ``text[position]`` starts (an offset into ``text``)."""
    start = 0
    for found in HARD_BREAK.finditer(text, 0, position + 1):
        if found.end() <= position:
            start = found.end()
    return start


def next_paragraph(text: str, position: int) -> int | None:
    """Where the paragraph after the one holding ``text[position]`` starts; None: not in
    ``text`` (it may follow in text not read yet)."""
    found = HARD_BREAK.search(text, position)
    if found is None:
        return None
    rest = found.end()
    while rest < len(text) and text[rest].isspace():
        rest += 1
    return rest if rest < len(text) else None
