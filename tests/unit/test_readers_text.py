"""What every reader hands on is sayable text: no control characters, no stray byte order marks;
and UTF-16 saved without a byte order mark is read as text, while binary data is still refused."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import docx
import pytest
from voxtray.core.errors import BinaryFileError
from voxtray.core.text.document import clean_text
from voxtray.core.text.readers import open_document, open_text, probe_text


def read(path: Path) -> str:
    return "".join(open_document(path))


# -- control characters and byte order marks ---------------------------------------------


def test_nul_bytes_after_the_probe_are_not_read(tmp_path: Path) -> None:
    """The probe sees 8 KiB of clean text; the NULs further on must not reach the voice."""
    path = tmp_path / "log.txt"
    path.write_bytes(b"Clean start. " * 1000 + b"\0\0Then\0 a NUL\x01 or two.\0")
    assert read(path) == "Clean start. " * 1000 + "Then a NUL or two."


def test_stray_utf16_bom_in_html_is_not_spoken(tmp_path: Path) -> None:
    """Two lone high bytes make the file Windows-1252, where ``\\xff\\xfe`` would be "ÿþ"."""
    path = tmp_path / "page.html"
    path.write_bytes(b"<html><body><p>Hello \xff\xfeworld.</p></body></html>")
    assert read(path) == "Hello world."


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("one\ufefftwo\ufffe three".encode(), "onetwo three"),  # BOMs inside UTF-8 text
        ("C1\u0085 and\u009b CSI".encode(), "C1 and CSI"),
        # A UTF-8 BOM inside a file read as Windows-1252 (its probe showed only lone high bytes).
        (b"caf\xe9 cr\xe8me. " * 700 + b"\xef\xbb\xbfend", "café crème. " * 700 + "end"),
        (b"page one\fpage two\vnext line", "page one\n\npage two\nnext line"),
        (b"\x1b[1;31mred\x1b[0m text\x1b", "red text"),  # terminal colours in a saved log
    ],
)
def test_controls_and_bom_remnants_go_from_plain_text(
    tmp_path: Path, data: bytes, text: str
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    assert read(path) == text


def test_every_document_format_is_cleaned(tmp_path: Path) -> None:
    markdown = tmp_path / "notes.md"
    markdown.write_text("# Ti\ufefftle\u0085\n\nA\x01 para\x7fgraph.\n", encoding="utf-8")
    stream = open_document(markdown)
    assert "".join(stream) == "Title\n\nA paragraph."
    assert [chapter.title for chapter in stream.chapters] == ["Title"]

    html = tmp_path / "page.html"
    html.write_text("<h1>Ti\ufefftle</h1><p>Body\u009b text\x0bhere.</p>", encoding="utf-8")
    assert read(html) == "Title\n\nBody text here."

    word = tmp_path / "report.docx"
    document = docx.Document()
    document.add_heading("Head\ufeffing\u0085", level=1)
    document.add_paragraph("Zero\ufeff width\u009b and C1")
    document.save(str(word))
    stream = open_document(word)
    assert "".join(stream) == "Heading\n\nZero width and C1"
    assert [chapter.title for chapter in stream.chapters] == ["Heading"]


@pytest.mark.parametrize("chunk_chars", [1, 7, 4096, 65536])
def test_cleaning_does_not_depend_on_where_blocks_are_cut(tmp_path: Path, chunk_chars: int) -> None:
    """Sequences that are removed whole (CR LF, a colour code, a BOM remnant) can straddle the
    reader's 4 KiB blocks; the text, and so every offset in it, is the same as if read at once."""
    rng = random.Random(11)
    pieces = ["word ", "word ", "\r\n", "\r", "\x1b[0;1;32m", "\xff\xfe", "\xe9", "\x01"]
    head = "caf\xe9 cr\xe8me. " * 700  # the probe sees Windows-1252
    body = "".join(rng.choice(pieces) + rng.choice(["", "\xef\xbb\xbf"]) for _ in range(20_000))
    raw = (head + body).encode("latin-1")
    path = tmp_path / "mixed.txt"
    path.write_bytes(raw)
    assert probe_text(path).encoding == "cp1252"
    text = "".join(open_text(path, chunk_chars=chunk_chars))
    assert text == clean_text(raw.decode("cp1252"))
    assert not any(mark in text for mark in ("\r", "\x1b", "\x01", "ï»¿", "ÿþ"))


# -- UTF-16 without a byte order mark ------------------------------------------------------

TEXT = "Notes saved by an old Windows tool: café, naïve, 😀.\r\nSecond line.\r\n" * 300


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("chunk_chars", [3, 65536])
def test_utf16_without_bom_is_read(tmp_path: Path, codec: str, chunk_chars: int) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(TEXT.encode(codec))
    warnings: list[str] = []
    text = "".join(open_text(path, chunk_chars=chunk_chars, on_warning=warnings.append))
    assert text == TEXT.replace("\r\n", "\n")
    assert warnings == []
    assert probe_text(path).encoding == codec


def test_short_utf16_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "hi.txt"
    path.write_bytes("Hi!".encode("utf-16-le"))
    assert read(path) == "Hi!"


def _random_bytes() -> bytes:
    return random.Random(5).randbytes(6000)


def _utf16_shaped_controls() -> bytes:
    """NULs at every other byte, like UTF-16, but the characters are control codes."""
    return b"".join(bytes([code, 0]) for code in range(1, 9)) * 400


def _elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + bytes(range(256)) * 8


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(7).randbytes(5000)


def _sparse_table() -> bytes:
    """A table of 16-bit little-endian numbers: high bytes mostly NUL, low bytes anything."""
    return b"".join(bytes([value, 0]) for value in random.Random(9).choices(range(256), k=3000))


@pytest.mark.parametrize(
    "data",
    [_random_bytes(), _utf16_shaped_controls(), _elf(), _png(), _sparse_table()],
    ids=["random", "utf16-shaped-controls", "elf", "png", "uint16-table"],
)
def test_binary_data_is_still_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(data)
    with pytest.raises(BinaryFileError, match=r"^data\.txt is not a text file"):
        open_document(path)


def test_utf16_with_a_bom_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF16_BE + "Hello".encode("utf-16-be"))
    assert probe_text(path).bom_length == 2
    assert read(path) == "Hello"
