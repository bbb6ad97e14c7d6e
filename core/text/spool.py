"""A document read once, laid down as plain text files: the whole text, or one per chapter.

An export needs things from a document that a live reading does not: its chapters before the
audio is written (for a chapter list, or for a file per chapter) and its length in characters
(for an honest progress fraction). Reading the document a second time to learn them would parse
a book twice, and holding its text would cost memory in proportion to the book. So the export
reads it once, here, and spools the text to files in a private folder: UTF-8, one part for the
whole text or one per chapter, which the narrator then streams like any text file.

A part's characters are exactly the document's characters from ``start``, so segment offsets in
a part plus ``start`` are offsets into the document (where the chapter marks are). To keep that
true after the text file reader has had its say, control characters other than tab and newline
become spaces (a carriage return would otherwise be turned into a line end, or taken with the
next newline as one), and characters UTF-8 cannot hold become ``?``: one character for one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import EmptyTextError
from .document import Chapter
from .readers import open_document

__all__ = ["SpoolStoppedError", "SpooledDocument", "TextPart", "spool_document"]

_SPACED = str.maketrans(
    {code: " " for code in (*range(0x20), 0x7F, 0xFEFF) if code not in (0x09, 0x0A)}
)
"""Control characters (and a byte order mark) as spaces: same length, nothing to mis-read."""


class SpoolStoppedError(Exception):
    """The reading was stopped (the export was cancelled) before the document's end."""


@dataclass(frozen=True, slots=True)
class TextPart:
    """A stretch of the document in a text file of its own."""

    path: Path
    title: str | None
    """The chapter it starts with; ``None`` for the text before the first chapter (or all of
    it, when the document is not split)."""
    start: int
    """Offset of its first character in the whole document's text."""
    length: int


@dataclass(frozen=True, slots=True)
class SpooledDocument:
    """What the one reading of a document found."""

    parts: tuple[TextPart, ...]
    """In reading order; each with something to say (parts of only whitespace are left out)."""
    chapters: tuple[Chapter, ...]
    """Every chapter mark, as the reader gave them (two marks may share an offset)."""
    length: int
    """Characters in the whole text."""


@dataclass(slots=True)
class _Writer:
    """The part being written."""

    path: Path
    title: str | None
    start: int
    file: TextIO
    length: int = 0
    spoken: bool = False
    """Whether it holds more than whitespace."""

    def write(self, text: str) -> None:
        if not text:
            return
        self.file.write(text.translate(_SPACED))
        self.length += len(text)
        self.spoken = self.spoken or not text.isspace()


def spool_document(
    source: Path,
    folder: Path,
    *,
    split: bool,
    on_warning: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> SpooledDocument:
    """Read ``source`` once into text files in ``folder`` (the caller owns and removes it).

    With ``split``, each chapter goes to a part of its own, and the text before the first
    chapter to a part with no title. Parts of only whitespace are left out, so two chapter marks
    at the same place (a part and its first chapter bookmarked on one PDF page) make one part,
    with the later, more specific title.

    Blocking (it parses the document): run it in a thread; ``stop`` ends it between two pieces
    of text with :class:`SpoolStoppedError`.

    Raises what :func:`~.readers.open_document` raises, and :class:`EmptyTextError` naming the
    file when the document has nothing to say.
    """
    parts: list[TextPart] = []
    writer: _Writer | None = None

    def begin(title: str | None, start: int) -> _Writer:
        nonlocal writer
        finish()  # a part left empty (the next mark came at once) is dropped there
        path = folder / f"part-{len(parts) + 1:04d}.txt"
        # newline="": the text's "\n" stays one character on every platform.
        file = path.open("w", encoding="utf-8", errors="replace", newline="")
        writer = _Writer(path, title, start, file)
        return writer

    def finish() -> None:
        nonlocal writer
        if writer is None:
            return
        writer.file.close()
        if writer.spoken:
            parts.append(TextPart(writer.path, writer.title, writer.start, writer.length))
        else:
            writer.path.unlink()
        writer = None

    offset = 0
    try:
        with open_document(source, on_warning=on_warning) as stream:
            current = begin(None, 0)
            seen = 0
            for piece in stream:
                if stop is not None and stop.is_set():
                    raise SpoolStoppedError()
                at = 0
                if split:
                    # A chapter is recorded as the piece that starts it is handed out, so any
                    # new mark lies inside this piece.
                    for chapter in stream.chapters[seen:]:
                        cut = chapter.offset - offset
                        current.write(piece[at:cut])
                        at = cut
                        current = begin(chapter.title, chapter.offset)
                seen = len(stream.chapters)
                current.write(piece[at:])
                offset += len(piece)
            chapters = tuple(stream.chapters)
        finish()
    finally:
        if writer is not None:
            writer.file.close()
    if not parts:
        raise EmptyTextError(f"{source.name} contains no text to speak.")
    return SpooledDocument(tuple(parts), chapters, offset)
