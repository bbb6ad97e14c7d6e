"""What the reading window shows: the text of the request being read, where the listener is in
it, and its chapters, collected from the moment the app starts so that the window can be opened
at any time and show the current request from where it began.

Offsets are the engine's: characters (code points) of the request's text, the coordinates of
``TextRead``, ``SegmentAudible``, ``ChapterFound`` and ``Repositioned``. The text itself lives in
a ``QTextDocument`` (the window's view shows this very document), whose positions count UTF-16
code units; :meth:`Transcript.position_of` and :meth:`Transcript.offset_at` convert.

Memory is bounded: the document keeps at most about :data:`CAP` characters around the reading
position. Text far behind is dropped, in batches of :data:`SLACK` (one document edit per batch,
not one per sentence); text far ahead (a huge paste arrives as one piece) waits outside the
document until the reading gets near. After a far rewind the engine sends the text again, and
every piece is placed by its offset, so dropping is never a loss.

Where the word is: the segment's speech lasts ``duration`` seconds from ``at``; the word is
estimated by character proportion over that time, minus the time spent paused.
"""

from __future__ import annotations

import bisect
import collections
import re
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QPlainTextDocumentLayout

from .bridge import NarratorBridge

CAP = 300_000
"""Characters kept in the document, around the reading position (a little more, by SLACK)."""
SLACK = 30_000
"""Text is dropped or brought in by at least this much at a time."""
KEEP_BEHIND = 100_000
"""Characters behind the reading position that stay while the text ahead fits."""

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_WORD = re.compile(r"\w+(?:['’\-.]\w+)*")


@dataclass(frozen=True, slots=True)
class Heard:
    """The segment being heard: ``[start, end)``, its speech's length, when it began."""

    start: int
    end: int
    duration: float | None
    at: float


@dataclass(frozen=True, slots=True)
class ChapterMark:
    index: int
    title: str
    offset: int


class Transcript(QObject):
    """The current request's text and reading position; see the module docstring."""

    reset = Signal()  # a new request: text, chapters and position were cleared
    textChanged = Signal()  # text was added or dropped (positions in the document moved)
    segmentChanged = Signal()  # another segment is heard, or none (moved, ended)
    chaptersChanged = Signal()
    spokenMoved = Signal()  # the voice's own timing moved the word being said
    playingChanged = Signal(bool)
    pausedChanged = Signal(bool)

    def __init__(self, bridge: NarratorBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self.document = QTextDocument(self)
        self.document.setDocumentLayout(QPlainTextDocumentLayout(self.document))
        self.document.setUndoRedoEnabled(False)  # an undo stack would keep every dropped page
        self._request: int | None = None
        self._labels: dict[int, str] = {}
        self._ended: collections.deque[int] = collections.deque(maxlen=64)
        self._label = ""
        self._playing = False
        self._base = 0  # offset of the document's first character
        self._text = ""  # the document's text, as code points
        self._pending = ""  # text after the document's end, not shown yet
        self._astral: list[int] = []  # offsets of characters that take two UTF-16 units
        self._segment: Heard | None = None
        self._words: list[tuple[int, int]] | None = None
        self._spoken_to: int | None = None  # where the voice's own timing says speech is
        self._moved_to: int | None = None
        self._chapters: list[ChapterMark] = []
        self._paused_since: float | None = None
        self._paused_in_segment = 0.0
        bridge.requestQueued.connect(self._queued)
        bridge.started.connect(lambda rid, _voice: self._start(rid))
        bridge.textRead.connect(self._text_read)
        bridge.segmentHeard.connect(self._segment_heard)
        bridge.chapterFound.connect(self._chapter_found)
        bridge.repositioned.connect(self._repositioned)
        bridge.speechProgress.connect(self._speech_progress)
        bridge.finished.connect(self._ended_request)
        bridge.failed.connect(lambda rid, _reason, _permanent: self._ended_request(rid))
        bridge.canceled.connect(self._ended_request)
        bridge.stateChanged.connect(lambda _state: self.check_pause(time.monotonic()))

    # -- what is known --------------------------------------------------------------------------

    @property
    def bridge(self) -> NarratorBridge:
        return self._bridge

    @property
    def request_id(self) -> int | None:
        return self._request

    @property
    def label(self) -> str:
        return self._label

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def paused(self) -> bool:
        return self._paused_since is not None

    @property
    def segment(self) -> Heard | None:
        return self._segment

    @property
    def chapters(self) -> list[ChapterMark]:
        return list(self._chapters)

    @property
    def start(self) -> int:
        """Offset of the first character in the document."""
        return self._base

    @property
    def text(self) -> str:
        """The text in the document (from :attr:`start`)."""
        return self._text

    @property
    def kept(self) -> int:
        """Characters held: in the document and waiting after it."""
        return len(self._text) + len(self._pending)

    @property
    def position(self) -> int:
        """The reading position: the segment heard, or where speech goes on after a move."""
        if self._segment is not None:
            return self._segment.start
        if self._moved_to is not None:
            return self._moved_to
        return self._base

    def position_of(self, offset: int) -> int | None:
        """The document position of ``offset``; ``None`` when that text is not in it."""
        if not self._base <= offset <= self._base + len(self._text):
            return None
        return offset - self._base + bisect.bisect_left(self._astral, offset)

    def offset_at(self, position: int) -> int:
        """The offset of the character at document ``position``."""
        astral = self._astral
        low, high = 0, len(astral)  # how many astral characters start before ``position``
        while low < high:
            mid = (low + high) // 2
            if astral[mid] - self._base + mid < position:
                low = mid + 1
            else:
                high = mid
        offset = self._base + max(position, 0) - low
        return min(max(offset, self._base), self._base + len(self._text))

    def chapter_at(self, offset: int) -> ChapterMark | None:
        """The chapter that ``offset`` is in (the last one starting at or before it)."""
        found = None
        for chapter in self._chapters:
            if chapter.offset > offset:
                break
            found = chapter
        return found

    # -- where the word is ----------------------------------------------------------------------

    def check_pause(self, now: float) -> bool:
        """Note a pause or a resume (the narrator's state is the truth); whether paused."""
        paused = self._bridge.narrator.paused
        if paused and self._paused_since is None:
            self._paused_since = now
            self.pausedChanged.emit(True)
        elif not paused and self._paused_since is not None:
            if self._segment is not None:
                self._paused_in_segment += max(0.0, now - max(self._paused_since, self._segment.at))
            self._paused_since = None
            self.pausedChanged.emit(False)
        return paused

    def elapsed(self, now: float) -> float | None:
        """Seconds of the segment's speech heard by ``now`` (paused time does not count)."""
        segment = self._segment
        if segment is None:
            return None
        if self._paused_since is not None:
            now = min(now, max(self._paused_since, segment.at))
        return max(0.0, now - segment.at - self._paused_in_segment)

    def speech_over(self, now: float) -> bool:
        """Whether the segment's speech has all been heard (the word cannot move any more)."""
        segment = self._segment
        elapsed = self.elapsed(now)
        if segment is None or segment.duration is None or elapsed is None:
            return True
        return elapsed >= segment.duration

    def word_at(self, now: float) -> tuple[int, int] | None:
        """``[start, end)`` of the word being said at ``now``: where the voice's own timing put
        speech (ElevenLabs), else estimated from the time into the sentence; ``None`` if
        unknown."""
        segment = self._segment
        if segment is None:
            return None
        if self._spoken_to is not None:
            at: float = self._spoken_to
        else:
            elapsed = self.elapsed(now)
            if elapsed is None or not segment.duration or segment.duration <= 0:
                return None
            fraction = min(elapsed / segment.duration, 1.0)
            at = segment.start + fraction * (segment.end - segment.start)
        words = self._segment_words()
        if not words:
            return None
        index = bisect.bisect_right(words, (at, float("inf"))) - 1
        return words[max(index, 0)]

    def _segment_words(self) -> list[tuple[int, int]]:
        segment = self._segment
        if segment is None:
            return []
        if self._words is None:
            inside = self._base <= segment.start and segment.end <= self._base + len(self._text)
            if not inside:
                return []  # not here yet: try again when the text comes
            text = self._text[segment.start - self._base : segment.end - self._base]
            self._words = [
                (segment.start + m.start(), segment.start + m.end()) for m in _WORD.finditer(text)
            ]
        return self._words

    # -- events ---------------------------------------------------------------------------------

    def _queued(self, request_id: int, label: str) -> None:
        self._labels[request_id] = label

    def _adopt(self, request_id: int) -> bool:
        """An event of another request: it is the one playing now, unless it already ended."""
        if request_id == self._request:
            return True
        if request_id in self._ended:
            return False
        self._start(request_id)
        return True

    def _start(self, request_id: int) -> None:
        if request_id == self._request:
            return
        self._request = request_id
        self._label = self._labels.get(request_id, "")
        self._chapters = []
        self._segment = None
        self._words = None
        self._moved_to = None
        self._paused_in_segment = 0.0
        self._clear_text(0)
        was_playing, self._playing = self._playing, True
        self.reset.emit()
        if not was_playing:
            self.playingChanged.emit(True)

    def _ended_request(self, request_id: int) -> None:
        self._labels.pop(request_id, None)
        self._ended.append(request_id)
        if request_id != self._request or not self._playing:
            return
        self._playing = False
        self._segment = None
        self._words = None
        self.segmentChanged.emit()
        self.playingChanged.emit(False)

    def _text_read(self, request_id: int, start: int, text: str) -> None:
        if not text or not self._adopt(request_id):
            return
        stop = start + len(text)
        end = self._base + len(self._text) + len(self._pending)
        if self.kept == 0 or start > end or stop < self._base:
            self._clear_text(start)  # nothing to join it to: start over there
            self._append(text)
        else:
            if start < self._base:
                self._prepend(text[: self._base - start])
            if stop > end:
                self._append(text[end - start :])
        self._bound()
        self.textChanged.emit()

    def _segment_heard(
        self, request_id: int, start: int, end: int, duration: float | None, at: float
    ) -> None:
        if not self._adopt(request_id):
            return
        now = time.monotonic()
        self.check_pause(now)
        self._segment = Heard(start, end, duration, at)
        self._words = None
        self._spoken_to = None
        self._moved_to = None
        self._paused_in_segment = 0.0
        if self._paused_since is not None:
            self._paused_since = max(self._paused_since, at)
        if self._bound():
            self.textChanged.emit()
        self.segmentChanged.emit()

    def _speech_progress(self, request_id: int, offset: int) -> None:
        segment = self._segment
        if request_id == self._request and segment and segment.start <= offset < segment.end:
            self._spoken_to = offset
            self.spokenMoved.emit()

    def _chapter_found(self, request_id: int, index: int, title: str, offset: int) -> None:
        if not self._adopt(request_id) or any(c.index == index for c in self._chapters):
            return
        self._chapters.append(ChapterMark(index, title, offset))
        self._chapters.sort(key=lambda chapter: (chapter.offset, chapter.index))
        self.chaptersChanged.emit()

    def _repositioned(self, request_id: int, offset: int) -> None:
        if not self._adopt(request_id):
            return
        self._moved_to = offset
        self._segment = None
        self._words = None
        self.segmentChanged.emit()

    # -- keeping the text -----------------------------------------------------------------------

    def _clear_text(self, base: int) -> None:
        self._base = base
        self._text = self._pending = ""
        self._astral = []
        self.document.clear()

    def _append(self, text: str) -> None:
        if self._pending:
            self._pending += text
            return
        offset = self._base + len(self._text)
        self._astral += [offset + m.start() for m in _ASTRAL.finditer(text)]
        self._text += text
        cursor = QTextCursor(self.document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)

    def _prepend(self, text: str) -> None:
        self._base -= len(text)
        self._astral[:0] = [self._base + m.start() for m in _ASTRAL.finditer(text)]
        self._text = text + self._text
        QTextCursor(self.document).insertText(text)

    def _cut(self, start: int, stop: int) -> None:
        """Remove ``[start, stop)`` (offsets) from the document: a piece at one of its ends."""
        first, last = self.position_of(start), self.position_of(stop)
        assert first is not None
        assert last is not None
        cursor = QTextCursor(self.document)
        cursor.setPosition(first)
        cursor.setPosition(last, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        lo, hi = bisect.bisect_left(self._astral, start), bisect.bisect_left(self._astral, stop)
        del self._astral[lo:hi]
        self._text = self._text[: start - self._base] + self._text[stop - self._base :]
        if start == self._base:
            self._base = stop

    def _bound(self) -> bool:
        """Keep about CAP characters around the reading position; whether the text changed."""
        if self.kept <= CAP and not self._pending:
            return False
        end = self._base + self.kept
        reading = min(max(self.position, self._base), end)
        low = max(self._base, min(reading - KEEP_BEHIND, end - CAP))
        high = min(end, low + CAP)
        changed = False
        document_end = self._base + len(self._text)
        if low >= document_end:  # the reading went past all that is shown: show from there
            pending = self._pending[low - document_end :]
            self._clear_text(low)
            self._pending = pending
            changed = True
        elif low - self._base >= SLACK or (low > self._base and len(self._text) > CAP + SLACK):
            newline = self._text.find("\n", low - self._base, low - self._base + 2_000)
            cut = self._base + newline + 1 if newline >= 0 else low  # whole paragraphs if near
            self._cut(self._base, min(cut, reading, document_end))
            changed = True
        document_end = self._base + len(self._text)
        if document_end > high + SLACK:  # far ahead: wait outside the document
            self._pending = self._text[high - self._base :] + self._pending
            self._cut(high, document_end)
            changed = True
        document_end = self._base + len(self._text)
        missing = high - document_end
        if self._pending and missing > 0 and missing >= min(SLACK, len(self._pending)):
            piece, self._pending = self._pending[:missing], self._pending[missing:]
            pending, self._pending = self._pending, ""
            self._append(piece)
            self._pending = pending
            changed = True
        return changed
