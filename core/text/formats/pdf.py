"""PDF to prose blocks, with pypdf, a page at a time.

A PDF has no paragraphs, only positioned lines, so the prose is rebuilt with rules that are
simple enough to predict:

* **Running headers, footers and page numbers.** A line among the first two or the last two of a
  page is dropped when the same line, with its digits ignored ("Page 3 of 9" ≈ "Page 4 of 9"),
  sits among the first two or last two lines of at least two other pages within four pages
  either side (of the one other page, in a two-page document). A line there that is only a page
  number ("12", "- 12 -", "Page 12", "xii") is dropped outright.
* **Paragraphs.** Lines are joined with a space. A paragraph ends after a line that ends a
  sentence (``. ! ? :`` and closing quotes) and falls short of the page's full line width by
  more than a fifth (the ragged last line of a justified paragraph), and wherever the text has
  a blank line. A paragraph runs on across a page break unless a bookmark starts the new page.
* **Hyphenation.** A line ending in letter + ``-`` followed by a line starting with a lowercase
  letter was either hyphenated by the typesetter ("exam-" "ple") or breaks a real compound
  ("well-" "known"). The document decides where it can: if the compound with its hyphen
  appears elsewhere in the text seen so far (or on the next four pages), the hyphen stays; if
  the joined word does, the hyphen goes. Otherwise the hyphen stays only after a handful of
  prefixes that almost always make compounds (well, self, non, ill, so, half…), and goes
  everywhere else, because end-of-line hyphens in typeset prose are far more often soft.
* **Chapters** come from the outline (bookmarks) of the first two levels; a PDF without one has
  no chapter marks, since guessing headings from font sizes misfires too often.

Memory: pages are extracted one at a time with a window of nine pages' text (the page being
laid out and four either side, for the header rule); pypdf keeps the page objects it has parsed
(not their text), which grows with the page count but stays far below the file size.

The eager checks (encrypted, damaged, no text layer) run when the document is opened. A page
that fails to extract later is skipped and reported once through ``on_warning``.

pypdf reports what it repairs through :mod:`logging` ("EOF marker not found", "incorrect
startxref pointer"), which would reach the application's log looking like VoxTray's own. While
this module calls pypdf, the ``pypdf`` logger keeps its records to itself (a handler of its own,
no propagation; restored when no reading is inside pypdf) and hands them to the reading that
caused them. Signs of a damaged file become one sentence through ``on_warning``; the rest
(fonts it guesses, odd but harmless structures) is noise to a listener and is dropped.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, BinaryIO

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError
from pypdf.generic import Destination

from ...errors import DamagedDocumentError, ProtectedDocumentError, UnsupportedDocumentError
from ..document import Block

__all__ = ["open_pdf"]

_WINDOW = 4
"""Pages either side that the header and footer rule compares a page with."""
_EDGE_LINES = 2
"""Lines at the top and at the bottom of a page that may be a running header or footer."""
_SHORT_LINE = 0.8
"""A sentence-ending line shorter than this share of the page's longest line ends a paragraph."""
_HEADING_LINE = 0.5
"""A line shorter than this share ends a paragraph even without a full stop (a heading)."""
_VOCABULARY_LIMIT = 200_000
"""Distinct words remembered for the hyphenation rule; beyond it the rule uses what it has."""
_COMPOUND_PREFIXES = frozenset(
    {"well", "self", "non", "ill", "so", "half", "quasi", "cross", "far", "near"}
)
_PAGE_NUMBER = re.compile(
    r"(?:page\s+)?[-–—(\[]?\s*(?:\d{1,5}|[ivxlcdm]{1,7})\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,5})?",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"""[.!?:…]["'”’»)\]]*$""")
_HYPHENATED_END = re.compile(r"([^\W\d_]+)-$")
_LEADING_WORD = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_DIGITS = re.compile(r"\d+")
_PAGE_ERRORS = (PyPdfError, KeyError, ValueError, TypeError, AttributeError, IndexError)
"""What pypdf raises on a malformed page: its own errors and the lookups it does not guard."""

_REPAIRED = re.compile(
    r"EOF marker|startxref|xref|trailer|not defined|wrong pointing|repaired|rebuild|truncated"
    r"|invalid stream|ended unexpectedly",
    re.IGNORECASE,
)
"""What pypdf says when it reads around damage to the file's structure."""

Warn = Callable[[str], None]


class _Notes:
    """What pypdf logged during one reading, boiled down to what the listener should hear."""

    def __init__(self, path: Path, warn: Warn | None) -> None:
        self._path = path
        self._warn = warn
        self._repaired = False
        self._told = False

    def take(self, record: logging.LogRecord) -> None:
        # The template, not the formatted message: pypdf's values never decide the class.
        if _REPAIRED.search(str(record.msg)):
            self._repaired = True

    def tell(self) -> None:
        """Pass the sentence on, the first time there is one."""
        if self._repaired and not self._told and self._warn is not None:
            self._told = True
            self._warn(
                f"{self._path.name} is damaged in places; VoxTray reads what it can of it, "
                "so some text may be missing."
            )


class _PypdfLog(logging.Handler):
    """Keeps pypdf's log records from the application's log while this module calls pypdf."""

    def __init__(self) -> None:
        super().__init__()
        self._logger = logging.getLogger("pypdf")
        self._callers = 0
        self._callers_lock = threading.Lock()
        self._propagate = True
        self._notes: ContextVar[_Notes | None] = ContextVar("pypdf_notes", default=None)

    def emit(self, record: logging.LogRecord) -> None:
        notes = self._notes.get()
        if notes is not None:
            notes.take(record)
        else:  # pypdf called by someone else while a reading is on: their record, as before
            logging.getLogger().handle(record)

    @contextmanager
    def into(self, notes: _Notes) -> Iterator[None]:
        """Hand the records of pypdf calls made in this block, on this thread, to ``notes``."""
        token = self._notes.set(notes)
        with self._callers_lock:
            if not self._callers:
                self._propagate = self._logger.propagate
                self._logger.addHandler(self)
                self._logger.propagate = False
            self._callers += 1
        try:
            yield
        finally:
            with self._callers_lock:
                self._callers -= 1
                if not self._callers:
                    self._logger.removeHandler(self)
                    self._logger.propagate = self._propagate
            self._notes.reset(token)


_PYPDF_LOG = _PypdfLog()


def open_pdf(path: Path, file: BinaryIO, *, on_warning: Warn | None = None) -> Iterator[Block]:
    """Check ``file`` now (encrypted, damaged, scanned), then yield its blocks page by page."""
    notes = _Notes(path, on_warning)
    with _PYPDF_LOG.into(notes):
        reader, marks = _check(path, file)
    notes.tell()
    return _Layout(path, reader, marks, notes, on_warning).blocks()


def _check(path: Path, file: BinaryIO) -> tuple[PdfReader, dict[int, list[str]]]:
    try:
        reader = PdfReader(file)
        encrypted = reader.is_encrypted
    except _PAGE_ERRORS as exc:
        raise DamagedDocumentError(f"{path.name} is damaged (it is not a readable PDF).") from exc
    if encrypted:
        _decrypt(path, reader)
    try:
        count = len(reader.pages)
        first = next((i for i in range(count) if _page_text(reader, i).strip()), None)
    except FileNotDecryptedError as exc:
        raise _protected(path) from exc
    except _PAGE_ERRORS as exc:
        raise DamagedDocumentError(f"{path.name} is damaged (its pages cannot be read).") from exc
    if first is None:
        raise UnsupportedDocumentError(
            f"{path.name} has no text layer (it is scanned images); VoxTray can't read it aloud."
        )
    return reader, _outline(reader)


def _protected(path: Path) -> ProtectedDocumentError:
    return ProtectedDocumentError(f"{path.name} is encrypted: VoxTray cannot read protected PDFs.")


def _decrypt(path: Path, reader: PdfReader) -> None:
    """Open a PDF encrypted with an empty user password (print or copy restrictions only)."""
    try:
        opened = reader.decrypt("")
    except (DependencyError, NotImplementedError, *_PAGE_ERRORS) as exc:
        raise _protected(path) from exc
    if not opened:  # PasswordType.NOT_DECRYPTED is 0
        raise _protected(path)


def _page_text(reader: PdfReader, index: int) -> str:
    return reader.pages[index].extract_text() or ""


def _outline(reader: PdfReader) -> dict[int, list[str]]:
    """Page index → titles of the bookmarks (first two levels) that point at it."""
    marks: dict[int, list[str]] = {}
    try:
        outline: list[Any] = list(reader.outline)
    except _PAGE_ERRORS:
        return marks  # a broken outline costs the chapter marks, not the text
    stack: list[tuple[Any, int]] = [(entry, 1) for entry in reversed(outline)]
    while stack:
        entry, level = stack.pop()
        if isinstance(entry, list):
            if level < 2:
                stack.extend((child, level + 1) for child in reversed(entry))
            continue
        if not isinstance(entry, Destination):
            continue
        try:
            page = reader.get_destination_page_number(entry)
        except _PAGE_ERRORS:
            continue
        if page is not None and page >= 0 and entry.title:
            marks.setdefault(page, []).append(str(entry.title))
    return marks


def _key(line: str) -> str:
    return " ".join(_DIGITS.sub("#", line).lower().split())


def _ends_paragraph(line: str, width: int) -> bool:
    if _HYPHENATED_END.search(line):
        return False
    if _SENTENCE_END.search(line):
        return len(line) < _SHORT_LINE * width
    return len(line) < _HEADING_LINE * width


class _Page:
    __slots__ = ("bottom", "index", "lines", "top", "width")

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        lines = [" ".join(line.split()) for line in text.split("\n")]
        filled = [at for at, line in enumerate(lines) if line]
        # Blank lines inside the page are paragraph breaks; around it they mean nothing.
        self.lines = lines[filled[0] : filled[-1] + 1] if filled else []
        self.width = max((len(line) for line in self.lines), default=0)
        nonblank = [line for line in self.lines if line]
        self.top = {_key(line) for line in nonblank[:_EDGE_LINES]}
        self.bottom = {_key(line) for line in nonblank[-_EDGE_LINES:]}


class _Layout:
    """Streams pages through the header window and joins their lines into paragraphs."""

    def __init__(
        self,
        path: Path,
        reader: PdfReader,
        marks: dict[int, list[str]],
        notes: _Notes,
        warn: Warn | None,
    ) -> None:
        self._path = path
        self._reader = reader
        self._marks = marks
        self._notes = notes
        self._warn = warn
        self._words: set[str] = set()
        self._compounds: set[str] = set()
        self._skipped = 0

    def blocks(self) -> Iterator[Block]:
        try:
            yield from self._blocks()
        finally:
            if self._skipped and self._warn is not None:
                pages = f"{self._skipped} page{'s' if self._skipped != 1 else ''}"
                self._warn(f"{self._path.name}: {pages} could not be read and were skipped.")

    def _blocks(self) -> Iterator[Block]:
        count = len(self._reader.pages)
        window: deque[_Page] = deque()
        ahead = 0  # next page index to extract
        paragraph: list[str] = []
        for index in range(count):
            while ahead < count and ahead <= index + _WINDOW:
                window.append(self._extract(ahead))
                ahead += 1
            while window[0].index < index - _WINDOW:
                window.popleft()
            page = next(page for page in window if page.index == index)
            titles = self._marks.get(index, [])
            if titles and paragraph:
                yield Block(self._join(paragraph))
                paragraph = []
            for title in titles:
                yield Block("", title)
            lines = self._body(page, [other for other in window if other is not page])
            width = max(other.width for other in window)
            for line in lines:
                if not line:
                    if paragraph:
                        yield Block(self._join(paragraph))
                        paragraph = []
                    continue
                paragraph.append(line)
                if _ends_paragraph(line, width):
                    yield Block(self._join(paragraph))
                    paragraph = []
        if paragraph:
            yield Block(self._join(paragraph))

    def _extract(self, index: int) -> _Page:
        try:
            with _PYPDF_LOG.into(self._notes):
                text = _page_text(self._reader, index)
        except _PAGE_ERRORS:
            self._skipped += 1
            text = ""
        self._notes.tell()
        if len(self._words) < _VOCABULARY_LIMIT:
            for word in _WORD.findall(text):
                word = word.lower()
                (self._compounds if "-" in word else self._words).add(word)
        return _Page(index, text)

    def _body(self, page: _Page, others: list[_Page]) -> list[str]:
        """The page's lines without running headers, footers and page numbers."""
        lines = list(page.lines)
        needed = min(2, len(others))
        for edge in ("top", "bottom"):
            for _ in range(_EDGE_LINES):
                at = _first_nonblank(lines, reverse=edge == "bottom")
                if at is None:
                    break
                line = lines[at]
                key = _key(line)
                repeats = sum(1 for other in others if key in getattr(other, edge))
                if _PAGE_NUMBER.fullmatch(line) or (needed and repeats >= needed):
                    del lines[at]
                else:
                    break
        return lines

    def _join(self, lines: list[str]) -> str:
        text = lines[0]
        for line in lines[1:]:
            hyphen = _HYPHENATED_END.search(text)
            if hyphen is None:
                text += " " + line
                continue
            right = _LEADING_WORD.match(line)
            if right is None or not line[0].islower():
                text += line  # "Jean-" "Paul", "pre-" "1990": a real hyphen, no space
            elif self._keeps_hyphen(hyphen.group(1), right.group(0)):
                text += line
            else:
                text = text[:-1] + line
        return text

    def _keeps_hyphen(self, left: str, right: str) -> bool:
        left, right = left.lower(), right.lower()
        if f"{left}-{right}" in self._compounds:
            return True
        if left + right in self._words:
            return False
        return left in _COMPOUND_PREFIXES


def _first_nonblank(lines: list[str], *, reverse: bool) -> int | None:
    indices = range(len(lines) - 1, -1, -1) if reverse else range(len(lines))
    return next((i for i in indices if lines[i]), None)
