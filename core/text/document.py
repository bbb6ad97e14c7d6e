"""A document as the narrator sees it: a stream of clean prose plus chapter marks.

Every format reader (``formats/``) turns its file into :class:`Block` objects: one paragraph,
heading, list or table each, in reading order. This module lays them out the same way for all
formats, so the segmenter and the reader window see one shape of text whatever the source:

* blocks are separated by a blank line, which the segmenter takes as the end of a sentence;
* inside a block, lines (list items, table rows, hard line breaks) are separated by one ``\\n``;
* runs of spaces collapse to one, soft hyphens and zero-width characters disappear;
* characters no voice can say go, in every format plain text included (:func:`clean_text`).

A chapter mark is recorded when its first block is laid out, at the offset of that block in the
concatenation of all pieces, which is the coordinate system of the segmenter's offsets: a UI can
show "Chapter 3" as soon as speech reaches ``chapters[2].offset``. The list grows as reading
proceeds because the formats that stream (PDF, EPUB) only learn a chapter when they reach it.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

from ..errors import SourceUnreadableError

__all__ = [
    "Block",
    "Chapter",
    "DocumentKind",
    "DocumentStream",
    "Warn",
    "clean_inline",
    "clean_text",
    "code_block",
    "unfinished_at",
    "unreadable_error",
]

DocumentKind = Literal["txt", "md", "html", "epub", "pdf", "docx"]
Warn = Callable[[str], None]


class _Closeable(Protocol):
    def close(self) -> None: ...


_SPACES = re.compile(r"[^\S\n]+")
_INVISIBLE = str.maketrans(dict.fromkeys("\u00ad\u200b\u200c\u2060"))
"""Soft hyphens and zero-width marks: layout hints, never spoken (ZWJ stays: emoji need it)."""
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffe"
"""C0 and C1 controls except tab and line feed, byte order marks and their byte-swapped twin."""
_BOM_REMNANTS = "\u00ef\u00bb\u00bf|\u00ff\u00fe|\u00fe\u00ff"
"""Byte order marks of UTF-8 and UTF-16 as they come out of a file decoded as Windows-1252."""
_CSI = "\x1b\\[[0-?]{0,16}[ -/]{0,2}"
"""A terminal's colour or cursor code in a saved log, without its final letter."""
_JUNK = re.compile(f"\r\n?|{_CSI}[@-~]|{_BOM_REMNANTS}|[{_CONTROLS}]")
_MAYBE_JUNK = re.compile(f"[{_CONTROLS}\u00ef\u00fe\u00ff]")
_UNFINISHED = re.compile(f"(?:\r|\x1b|{_CSI}|\u00ef\u00bb?|[\u00ff\u00fe])\\Z")
_LONGEST_UNFINISHED = 20
_SAID_AS = {"\f": "\n\n", "\v": "\n", "\r": "\n", "\r\n": "\n"}
_BLOCK_SEPARATOR = "\n\n"
_FENCE = "```"
_FENCE_LIKE = re.compile(r"[ \t]*(?:```|~~~)")


@dataclass(frozen=True, slots=True)
class Chapter:
    """Where a chapter starts: ``offset`` counts characters from the start of the text."""

    title: str
    offset: int


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph, heading, list or table of a document, in reading order.

    ``text`` may hold several lines (list items, table rows). ``chapter`` is the title of a
    chapter that starts here; a block with a chapter and no text passes its mark on to the next
    block that has text (a PDF bookmark on a page whose first lines are a dropped header).
    """

    text: str
    chapter: str | None = None


def clean_text(text: str) -> str:
    """``text`` without what a voice would read as junk or stumble on, line ends made ``\\n``.

    Every reader's text passes through here, plain text included, so that a NUL deep in a
    log, a terminal colour code or a byte order mark left in the middle of a file (``ÿþ`` once
    decoded as Windows-1252) is never spoken nor printed by ``voxtray clean``. A form feed is
    a page break, so it becomes a paragraph break; a vertical tab (Word's line break) a line
    break. Offsets are those of the result: readers clean before they count.
    """
    if _MAYBE_JUNK.search(text) is None:  # the usual case, several times faster than the sub
        return text
    return _JUNK.sub(lambda found: _SAID_AS.get(found.group(), ""), text)


def unfinished_at(text: str) -> int:
    """Where a tail of ``text`` starts that the next piece may complete into something
    :func:`clean_text` removes (``\\r`` before ``\\n``, half a colour code or a BOM remnant);
    ``len(text)`` if none. A reader that cleans piece by piece holds that tail back, so that
    the result does not depend on where the pieces were cut."""
    found = _UNFINISHED.search(text, max(0, len(text) - _LONGEST_UNFINISHED))
    return found.start() if found else len(text)


def code_block(code: str) -> str:
    """``code`` as a fenced block, which the speakable pass skips, announces or reads as the
    user chose (``[text] code``), exactly as it treats a fence in plain text.

    A line of the code that looks like a fence itself (a Markdown sample inside a sample)
    would end the block early for that pass, so it is left out; nothing but whitespace: "".
    """
    lines = [line for line in code.split("\n") if not _FENCE_LIKE.match(line)]
    if not any(line.strip() for line in lines):
        return ""
    return "\n".join((_FENCE, *lines, _FENCE))


def clean_inline(text: str) -> str:
    """Collapse whitespace (newlines included) to single spaces and drop invisible marks."""
    return " ".join(clean_text(text).translate(_INVISIBLE).split())


def _clean_block(text: str) -> str:
    lines = (
        _SPACES.sub(" ", line).strip()
        for line in clean_text(text).translate(_INVISIBLE).split("\n")
    )
    return "\n".join(line for line in lines if line)


class DocumentStream(Iterator[str]):
    """The text of a document, piece by piece, with the chapters found so far.

    Iterate it once (it is its own iterator); ``close()`` releases the file early, as closing a
    generator does. ``chapters`` is complete once iteration has ended.
    """

    def __init__(
        self,
        path: Path,
        kind: DocumentKind,
        pieces: Iterator[str],
        chapters: list[Chapter] | None = None,
        *,
        resource: _Closeable | None = None,
    ) -> None:
        self.path = path
        self.kind: DocumentKind = kind
        self.chapters: list[Chapter] = chapters if chapters is not None else []
        self._pieces = pieces
        self._resource = resource

    @classmethod
    def from_blocks(
        cls,
        path: Path,
        kind: DocumentKind,
        blocks: Iterable[Block],
        *,
        resource: _Closeable | None = None,
    ) -> DocumentStream:
        """Lay ``blocks`` out as text; ``resource`` (an open file) is closed with the stream."""
        chapters: list[Chapter] = []
        return cls(path, kind, _lay_out(path, blocks, chapters), chapters, resource=resource)

    def __iter__(self) -> DocumentStream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._pieces)
        except BaseException:  # the end, or a failure: either way the file is done with
            self.close()
            raise

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        if self._resource is not None:
            self._resource.close()

    def __enter__(self) -> DocumentStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _lay_out(path: Path, blocks: Iterable[Block], chapters: list[Chapter]) -> Iterator[str]:
    offset = 0
    pending: list[str] = []
    iterator = iter(blocks)
    try:
        while True:
            try:
                block = next(iterator)
            except StopIteration:
                return
            except OSError as exc:  # the file went away or failed under the format library
                raise unreadable_error(path, exc) from exc
            if block.chapter:
                pending.append(clean_inline(block.chapter))
            text = _clean_block(block.text)
            if not text:
                continue
            separator = _BLOCK_SEPARATOR if offset else ""
            start = offset + len(separator)
            chapters.extend(Chapter(title, start) for title in pending if title)
            pending.clear()
            yield separator + text
            offset = start + len(text)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def unreadable_error(path: Path, exc: OSError) -> SourceUnreadableError:
    """The user's sentence for an OSError met while reading ``path``."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    else:
        reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
        reason = reason or type(exc).__name__
        reason = reason[0].lower() + reason[1:]
    return SourceUnreadableError(f"Cannot read {path}: {reason}.")
