"""Where a transport command lands: rewind or skip by sentence, paragraph or chapter, a jump.

Positions are found in the text itself, not in a history of what was heard, so they are the
same whether the listener got there by reading, by resuming or by jumping: a sentence start is
where the segmenter starts a sentence in that paragraph, a paragraph ends at a blank line (the
segmenter's hard break), a chapter starts at the document's chapter mark.

These functions read the text (and may read ahead in the file), so they block: the worker calls
:func:`resolve` off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..model import TextUnit
from ..text.seekable import SeekableText, next_paragraph, paragraph_start
from ..text.segment import Segmenter

__all__ = ["RESTART_GRACE", "Move", "MoveKind", "resolve", "sentence_start"]

RESTART_GRACE = 2.0
"""Seconds into a sentence after which "back" restarts it instead of going to the one before
(as media players do with tracks): pressing back twice quickly always goes further back."""
_CONTEXT = 16_384
"""Text looked at on either side of a position to find its paragraph."""
_READ_AHEAD_LIMIT = 4_000_000
"""How far a paragraph skip reads on looking for the next paragraph before giving up."""


class MoveKind(Enum):
    REWIND = "rewind"
    SKIP = "skip"
    JUMP = "jump"
    CHAPTER = "chapter"
    RESTART = "restart"
    """Start the current sentence over (a new speed applies from there)."""


@dataclass(frozen=True, slots=True)
class Move:
    """A transport command for the request being spoken."""

    kind: MoveKind
    unit: TextUnit = TextUnit.SENTENCE
    offset: int = 0
    """JUMP: the offset to go to (snapped to its sentence's start)."""
    index: int = 0
    """CHAPTER: which chapter."""


def resolve(text: SeekableText, move: Move, position: int, heard_for: float) -> int | None:
    """The offset speech goes on from; ``None``: past the end (the request is done).

    ``position`` is the start of the segment being heard, ``heard_for`` how long it has been.
    """
    if move.kind is MoveKind.RESTART:
        return position
    if move.kind is MoveKind.CHAPTER:
        chapters = text.chapters
        return chapters[move.index].offset if 0 <= move.index < len(chapters) else position
    if move.kind is MoveKind.JUMP:
        target = max(0, move.offset)
        if not text.read_until(lambda: text.read_end > target):
            return None
        return sentence_start(text, target)
    if move.kind is MoveKind.REWIND:
        return _rewind(text, move.unit, position, heard_for)
    return _skip(text, move.unit, position)


def sentence_start(text: SeekableText, offset: int) -> int:
    """Where the sentence holding ``offset`` starts (a whole sentence, not a cut part)."""
    around = _paragraph_around(text, offset)
    if around is None:
        return offset
    base, window, local, start = around
    found = next_paragraph(window, local)
    end = len(window) if found is None else found
    segmenter = Segmenter(max_chars=100_000, first_clause_chars=100_000)
    segments = [*segmenter.feed(window[start:end]), *segmenter.close()]
    best = start
    sentence_begins = True
    for segment in segments:
        if segment.start > local - start:
            break
        if sentence_begins:
            best = start + segment.start
        sentence_begins = segment.kind.ends_sentence
    return base + best


def _rewind(text: SeekableText, unit: TextUnit, position: int, heard_for: float) -> int:
    sentence = sentence_start(text, position)
    if unit is TextUnit.SENTENCE:
        current = sentence
    elif unit is TextUnit.PARAGRAPH:
        current = _paragraph_start(text, position)
    else:
        current = _chapter_start(text, position)
    if position > current or heard_for >= RESTART_GRACE:
        return current  # the start of this sentence / paragraph / chapter
    if current <= 0:
        return 0
    if unit is TextUnit.SENTENCE:
        return sentence_start(text, current - 1)
    if unit is TextUnit.PARAGRAPH:
        return _paragraph_start(text, current - 1)
    return _chapter_start(text, current - 1)


def _skip(text: SeekableText, unit: TextUnit, position: int) -> int | None:
    if unit is TextUnit.CHAPTER:

        def later_chapter() -> bool:
            return any(chapter.offset > position for chapter in text.chapters)

        if not text.read_until(later_chapter):
            return None
        return min(c.offset for c in text.chapters if c.offset > position)
    # By sentence, the playback skips by itself (Narrator.skip): only paragraphs come here.
    text.have(position, position + 1)
    found: list[int] = []
    searched = position

    def next_found() -> bool:
        nonlocal searched
        if found:
            return True
        # Look again only at what came since (with a margin: a break may straddle pieces).
        start = max(position, searched - 8)
        window = text.text(start, text.read_end) or ""
        target = next_paragraph(window, max(0, position - start)) if window else None
        searched = text.read_end
        if target is not None:
            found.append(start + target)
        return target is not None

    if text.read_until(next_found, limit=_READ_AHEAD_LIMIT):
        return found[-1]
    return None


def _paragraph_start(text: SeekableText, offset: int) -> int:
    around = _paragraph_around(text, offset)
    if around is None:
        return offset
    base, window, _, start = around
    while start < len(window) and window[start].isspace():
        start += 1
    return base + start


def _chapter_start(text: SeekableText, offset: int) -> int:
    starts = [chapter.offset for chapter in text.chapters if chapter.offset <= offset]
    return max(starts, default=0)


def _paragraph_around(text: SeekableText, offset: int) -> tuple[int, str, int, int] | None:
    """The kept text around ``offset`` (read on, or again, to have it) as ``(base, window,
    local, start)``: the window starts at ``base``, ``local`` is ``offset`` in it and ``start``
    where its paragraph begins in it. None when there is no text there."""
    base = max(0, offset - _CONTEXT)
    text.have(base, offset + _CONTEXT)
    base = max(base, text.kept_start())
    window = text.text(base, min(text.read_end, max(offset, base) + _CONTEXT)) or ""
    if not window:
        return None
    local = min(offset - base, len(window) - 1)
    return base, window, local, paragraph_start(window, local)
