"""Reading a plain-text file as a stream of text pieces.

A file dropped on the tray can be anything: a 50 MB log, a Windows-1252 note, a PNG renamed
``.txt``. So the file is checked before the first piece is asked for (the caller reports a bad
file before the sound card opens), then decoded block by block with an incremental decoder,
never held whole. Line ends become ``\\n`` so that segment offsets mean the same on every
platform, and control characters go (:func:`~.document.clean_text`). Decoding never fails:
undecodable bytes become U+FFFD and the caller hears about it once, through ``on_warning``,
in a sentence fit for the user. UTF-16 is recognised by its byte order mark, or without one
by the NUL high bytes of Latin-script text.

Documents (Markdown, HTML, EPUB, PDF, Word) go through :func:`open_document`, which recognises
the format by its content first (``%PDF``, a ZIP holding an EPUB or a Word document, an HTML
doctype) and its extension second, checks the file just as eagerly, and hands it to the reader
in ``formats/`` that owns that format's library. Plain text goes through the decoder above.
"""

from __future__ import annotations

import codecs
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import (
    BinaryFileError,
    DamagedDocumentError,
    ProtectedDocumentError,
    SourceNotFoundError,
    SourceUnreadableError,
    UnsupportedDocumentError,
)
from .document import (
    Chapter,
    DocumentKind,
    DocumentStream,
    clean_text,
    unfinished_at,
    unreadable_error,
)
from .formats.archive import ARCHIVE_ERRORS, archive_error
from .formats.docx import open_docx
from .formats.epub import open_epub
from .formats.html import html_blocks
from .formats.markdown import markdown_blocks
from .formats.pdf import open_pdf

__all__ = [
    "Chapter",
    "DocumentKind",
    "DocumentStream",
    "TextSource",
    "open_document",
    "open_text",
    "probe_document",
    "probe_text",
]

_PROBE_BYTES = 8192
_MIN_BLOCK_BYTES = 4096
_CONTROL_RATIO = 0.1
"""A text file has hardly any control characters; above this share of the probe it is data."""
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")
"""Control bytes that plain text does contain (ESC: colour codes in saved terminal logs)."""
_MIN_UTF16_UNITS = 2
_UTF16_HIGH_NULS = 0.5
"""UTF-16 without a BOM: at least this share of the high bytes are NUL…"""
_UTF16_LOW_NULS = 0.05
"""…and at most this share of the low bytes (a NUL character is not text anyway)."""
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "cp1252": "Windows-1252",
}

# The decoders report each undecodable stretch to this handler, which replaces it and counts it
# in the tally of whichever decode runs in the current context.
_ERRORS = "voxtray.count-replace"


class _Tally:
    __slots__ = ("bytes", "longest", "stretches")

    def __init__(self) -> None:
        self.bytes = 0
        self.stretches = 0
        self.longest = 0


_tally: ContextVar[_Tally] = ContextVar("_tally")


def _count_and_replace(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    tally = _tally.get(None)
    if tally is not None:
        length = error.end - error.start
        tally.bytes += length
        tally.stretches += 1
        tally.longest = max(tally.longest, length)
    return "\ufffd", error.end


codecs.register_error(_ERRORS, _count_and_replace)


def _decode(decoder: codecs.IncrementalDecoder, data: bytes, tally: _Tally, *, final: bool) -> str:
    token = _tally.set(tally)
    try:
        return decoder.decode(data, final)
    finally:
        _tally.reset(token)


@dataclass(frozen=True, slots=True)
class TextSource:
    """A file checked to be readable text, and how to decode it."""

    path: Path
    encoding: str
    """Python codec name: ``utf-8``, ``utf-16-le``, ``utf-16-be`` or ``cp1252``."""
    bom_length: int = 0
    """Bytes at the start that are a byte order mark, not text."""
    size: int = 0
    """Size in bytes when it was checked."""

    def chunks(
        self,
        *,
        chunk_chars: int = 65536,
        on_warning: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """Yield the decoded text in pieces of at most ``chunk_chars`` characters."""
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")
        return self._stream(chunk_chars, on_warning)

    def _stream(self, chunk_chars: int, on_warning: Callable[[str], None] | None) -> Iterator[str]:
        block_bytes = max(chunk_chars, _MIN_BLOCK_BYTES)
        decoder = codecs.getincrementaldecoder(self.encoding)(_ERRORS)
        tally = _Tally()
        carry = ""  # a trailing "\r" or half a colour code waits for the rest of it
        try:
            with _open(self.path) as file:
                file.seek(self.bom_length)
                while True:
                    block = _read(file, self.path, block_bytes)
                    text = carry + _decode(decoder, block, tally, final=not block)
                    cut = unfinished_at(text) if block else len(text)
                    text, carry = clean_text(text[:cut]), text[cut:]
                    for at in range(0, len(text), chunk_chars):
                        yield text[at : at + chunk_chars]
                    if not block:
                        return
        finally:
            message = self._warning(tally.bytes)
            if message and on_warning is not None:
                on_warning(message)

    def _warning(self, replaced: int) -> str | None:
        name = _ENCODING_NAMES.get(self.encoding, self.encoding)
        count = f"{replaced} byte{'s' if replaced != 1 else ''}"
        if self.encoding == "cp1252":
            detail = f"; {count} could not be read" if replaced else ""
            return f"{self.path.name} is not UTF-8, so it was read as Windows-1252{detail}."
        if replaced:
            verb = "were" if replaced != 1 else "was"
            return f"{self.path.name} is not valid {name}: {count} {verb} replaced."
        return None


def open_text(
    path: Path,
    *,
    chunk_chars: int = 65536,
    on_warning: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """Check ``path`` now, then stream its text in pieces of at most ``chunk_chars``.

    Raises :class:`SourceNotFoundError`, :class:`SourceUnreadableError` or
    :class:`BinaryFileError` at call time. ``on_warning`` is called at most once, when the
    stream ends or is closed, if the text had to be decoded with replacements or guessed.
    An empty file is not an error here: it yields nothing.
    """
    return probe_text(path).chunks(chunk_chars=chunk_chars, on_warning=on_warning)


def probe_text(path: Path) -> TextSource:
    """Check that ``path`` is a readable text file and find out its encoding."""
    info = _regular_file(path)
    with _open(path) as file:
        head = _read(file, path, _PROBE_BYTES)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return TextSource(path, encoding, len(bom), info.st_size)
    complete = len(head) < _PROBE_BYTES
    utf16 = _utf16_without_bom(head, complete=complete)
    if utf16 is not None:
        return TextSource(path, utf16, 0, info.st_size)
    if _looks_binary(head):
        raise BinaryFileError(f"{path.name} is not a text file (it looks like binary data).")
    encoding = "cp1252" if _looks_single_byte(head, complete=complete) else "utf-8"
    return TextSource(path, encoding, 0, info.st_size)


def _looks_binary(head: bytes | str) -> bool:
    """Whether ``head`` (bytes, or text decoded from them) has the control characters of data."""
    codes = head if isinstance(head, bytes) else [ord(char) for char in head]
    if 0 in codes:
        return True
    controls = sum(
        1 for code in codes if (code < 0x20 or code == 0x7F) and code not in _TEXT_CONTROLS
    )
    return controls > _CONTROL_RATIO * len(codes)


def _utf16_without_bom(head: bytes, *, complete: bool) -> str | None:
    """The codec of UTF-16 text saved without a byte order mark, if ``head`` is that.

    Text in a Latin script has a NUL as the high byte of almost every character in UTF-16, so
    every other byte is NUL and the bytes between hardly ever are. Binary data has NULs
    scattered at both positions, and what does look the part must still decode cleanly into
    text without the control characters of data. (UTF-16 text in other scripts, with few
    NULs, is not recognised: it is refused as binary, as before.)
    """
    units = len(head) // 2
    if units < _MIN_UTF16_UNITS:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    for codec, high, low in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if high < _UTF16_HIGH_NULS * units or low > _UTF16_LOW_NULS * units:
            continue
        try:
            text = codecs.getincrementaldecoder(codec)("strict").decode(head[: 2 * units], complete)
        except UnicodeDecodeError:
            return None
        return None if _looks_binary(text) else codec
    return None


def _looks_single_byte(head: bytes, *, complete: bool) -> bool:
    """Whether the probe is clearly in a legacy 8-bit encoding rather than broken UTF-8.

    Text in Windows-1252 or Latin-1 has accented letters as lone high bytes between ASCII
    ones; UTF-8 has them as valid multi-byte sequences. Only a probe with several lone high
    bytes and not one valid sequence is taken for Windows-1252: a UTF-8 file with a few bad
    bytes stays UTF-8 and is reported as such.
    """
    tally = _Tally()
    decoder = codecs.getincrementaldecoder("utf-8")(_ERRORS)
    text = _decode(decoder, head, tally, final=complete)
    valid = sum(1 for char in text if char > "\x7f") - tally.stretches
    return tally.stretches >= 2 and tally.longest == 1 and valid == 0


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise SourceNotFoundError(f"No such file: {path}") from exc
    except IsADirectoryError as exc:
        raise SourceNotFoundError(f"{path} is a folder, not a file.") from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _read(file: BinaryIO, path: Path, size: int) -> bytes:
    try:
        return file.read(size)
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: OSError) -> SourceUnreadableError:
    return unreadable_error(path, exc)


def _regular_file(path: Path) -> os.stat_result:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise SourceNotFoundError(f"No such file: {path}") from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if stat.S_ISDIR(info.st_mode):
        raise SourceNotFoundError(f"{path} is a folder, not a file.")
    if not stat.S_ISREG(info.st_mode):
        raise SourceNotFoundError(f"{path} is not a regular file.")
    return info


# -- documents ---------------------------------------------------------------------------

_EXTENSIONS: dict[str, DocumentKind] = {
    ".md": "md",
    ".markdown": "md",
    ".mdown": "md",
    ".mkd": "md",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".epub": "epub",
    ".pdf": "pdf",
    ".docx": "docx",
}
_FORMAT_NAMES = {"epub": "EPUB book", "pdf": "PDF file", "docx": "Word document"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Old Office files, and also the wrapper Office puts around a password-protected .docx."""
_HTML_STARTS = (b"<!doctype html", b"<html")
_PDF_MAGIC_WITHIN = 1024
"""Readers accept ``%PDF-`` anywhere in the first KiB (some generators put junk before it)."""


def probe_document(path: Path) -> DocumentKind:
    """Check that ``path`` is a readable file and tell its format, cheaply.

    The content decides before the extension: a PDF named ``.txt`` is a PDF. Raises what
    :func:`open_document` raises for a missing, unreadable, binary or unsupported file; the
    deeper checks (encryption, a PDF without text, a damaged book) need :func:`open_document`.
    """
    kind, _ = _sniff(path)
    return kind


def open_document(path: Path, *, on_warning: Callable[[str], None] | None = None) -> DocumentStream:
    """Check ``path`` now, then stream its readable text, with its chapters, as it is read.

    Raises, at call time, :class:`SourceNotFoundError`, :class:`SourceUnreadableError`,
    :class:`BinaryFileError`, :class:`UnsupportedDocumentError`,
    :class:`ProtectedDocumentError` or :class:`DamagedDocumentError`, each naming the file.
    ``on_warning`` receives sentences for the user (a text file that is not UTF-8, PDF pages
    that could not be read), each at most once. An empty document is not an error here.

    Text, Markdown, EPUB and PDF are parsed as the stream goes, so the first piece comes early
    and memory stays bounded; a part that turns out damaged then raises
    :class:`DamagedDocumentError` from the iteration. HTML and Word are parsed here, whole.
    """
    kind, text = _sniff(path)
    if kind == "txt":
        assert text is not None
        return DocumentStream(path, kind, text.chunks(on_warning=on_warning))
    if kind == "md":
        assert text is not None
        # The scan for link definitions reads the file first: it gives the encoding warning.
        blocks = markdown_blocks(text.chunks(), text.chunks(on_warning=on_warning))
        return DocumentStream.from_blocks(path, kind, blocks)
    if kind == "html":
        assert text is not None
        markup = "".join(text.chunks(on_warning=on_warning))
        return DocumentStream.from_blocks(path, kind, html_blocks(markup))
    if kind == "docx":
        return DocumentStream.from_blocks(path, kind, open_docx(path))
    # EPUB and PDF are read as the stream goes: the file stays open until the stream is closed.
    file = _open(path)
    try:
        if kind == "epub":
            blocks = open_epub(path, _zip(path, file))
        else:
            blocks = open_pdf(path, file, on_warning=on_warning)
    except BaseException:
        file.close()
        raise
    return DocumentStream.from_blocks(path, kind, blocks, resource=file)


def _sniff(path: Path) -> tuple[DocumentKind, TextSource | None]:
    _regular_file(path)
    with _open(path) as file:
        head = _read(file, path, _PROBE_BYTES)
        by_name = _EXTENSIONS.get(path.suffix.lower())
        if b"%PDF-" in head[:_PDF_MAGIC_WITHIN]:
            return "pdf", None
        if head.startswith(_ZIP_MAGIC):
            with _zip(path, file) as archive:
                return _zip_kind(path, archive), None
        if head.startswith(_OLE_MAGIC):
            if by_name == "docx":
                raise ProtectedDocumentError(
                    f"{path.name} is password-protected: VoxTray cannot read protected documents."
                )
            raise UnsupportedDocumentError(
                f"{path.name} is an old-style Office file; "
                "save it as .docx or PDF to have VoxTray read it."
            )
    if by_name in _FORMAT_NAMES:
        raise DamagedDocumentError(
            f"{path.name} is not a valid {_FORMAT_NAMES[by_name]} (it is damaged or misnamed)."
        )
    text = probe_text(path)
    if by_name is None and head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_HTML_STARTS):
        by_name = "html"
    return by_name or "txt", text


def _zip(path: Path, file: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DamagedDocumentError(f"{path.name} is damaged (the archive is truncated).") from exc
    except ARCHIVE_ERRORS as exc:
        raise archive_error(path, exc) from exc


def _zip_kind(path: Path, archive: zipfile.ZipFile) -> DocumentKind:
    names = set(archive.namelist())
    if "mimetype" in names:
        try:
            mimetype = archive.read("mimetype").strip()
        except ARCHIVE_ERRORS as exc:
            raise archive_error(path, exc) from exc
        if mimetype == b"application/epub+zip":
            return "epub"
    if "META-INF/container.xml" in names and path.suffix.lower() == ".epub":
        return "epub"
    if "word/document.xml" in names:
        return "docx"
    raise UnsupportedDocumentError(
        f"{path.name} is a ZIP archive, not an EPUB book or a Word document; "
        "VoxTray cannot read it aloud."
    )
