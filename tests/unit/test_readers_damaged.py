"""Damaged EPUB and Word files: refused by name with the project's own error, never a crash.

The fuzz tests cut, delete and overwrite bytes of a real file, and break single members of the
archive, with a fixed seed: each variant must either read to the end or raise an
:class:`InputError` that names the file.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from voxtray.core.errors import DamagedDocumentError, InputError
from voxtray.core.text.readers import open_document

from tests.harness.documents import BOOK_TEXT, DOCX_TEXT, build_docx, build_epub

VARIANTS = 50


def rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """``source`` copied to ``target`` member by member; ``change`` may alter or drop each."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info, data)
    return target


def opf(change: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    return lambda name, data: change(data) if name.endswith(".opf") else data


# -- the package file of an EPUB -------------------------------------------------------------


def test_epub_without_metadata_is_read(tmp_path: Path) -> None:
    """ebooklib crashed on it (AttributeError: 'NoneType' object has no attribute 'nsmap');
    VoxTray needs only the manifest and the spine."""
    source = build_epub(tmp_path / "whole.epub")
    strip = opf(lambda data: re.sub(rb"<metadata.*?</metadata>", b"", data, flags=re.DOTALL))
    path = rewrite(source, tmp_path / "bare.epub", strip)
    stream = open_document(path)
    assert "".join(stream) == BOOK_TEXT
    assert [chapter.title for chapter in stream.chapters] == [
        "The Beginning",
        "The Middle",
        "Epilogue",
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda data: b"garbage",
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: data.replace(b"<manifest>", b"<manifest><item"),
    ],
    ids=["garbage", "empty", "cut", "malformed"],
)
def test_epub_with_a_broken_package_file(tmp_path: Path, change: Callable[[bytes], bytes]) -> None:
    path = rewrite(build_epub(tmp_path / "whole.epub"), tmp_path / "broken.epub", opf(change))
    with pytest.raises(DamagedDocumentError) as caught:
        open_document(path)
    assert str(caught.value) == "broken.epub is damaged (its package file is broken)."


def test_epub_without_its_package_file(tmp_path: Path) -> None:
    source = build_epub(tmp_path / "whole.epub")
    path = rewrite(source, tmp_path / "hollow.epub", lambda n, d: None if n.endswith("opf") else d)
    with pytest.raises(DamagedDocumentError, match=r"^hollow\.epub is damaged \("):
        open_document(path)


def test_epub_with_a_broken_table_of_contents_is_still_read(tmp_path: Path) -> None:
    """The NCX and the nav are both unusable: headings name the chapters instead."""
    source = build_epub(tmp_path / "whole.epub")

    def break_toc(name: str, data: bytes) -> bytes:
        return b"<ncx><navMap><navPoint" if name.endswith(("toc.ncx", "nav.xhtml")) else data

    stream = open_document(rewrite(source, tmp_path / "lost.epub", break_toc))
    assert "".join(stream) == BOOK_TEXT
    assert [chapter.title for chapter in stream.chapters] == [
        "Chapter One",
        "Chapter Two",
        "Epilogue",
    ]


def test_epub_without_an_ncx_takes_titles_from_the_nav(tmp_path: Path) -> None:
    source = build_epub(tmp_path / "whole.epub")
    path = rewrite(source, tmp_path / "epub3.epub", lambda n, d: None if n.endswith("ncx") else d)
    stream = open_document(path)
    assert "".join(stream) == BOOK_TEXT
    assert [chapter.title for chapter in stream.chapters][:2] == ["The Beginning", "The Middle"]


# -- a Word document with bytes cut out ------------------------------------------------------


def test_docx_with_bytes_cut_from_the_middle(tmp_path: Path) -> None:
    """zipfile seeks to an offset before the start of the file: OSError EINVAL, not a disk
    error, so the file is damaged rather than unreadable."""
    whole = build_docx(tmp_path / "whole.docx").read_bytes()
    path = tmp_path / "holed.docx"
    middle = len(whole) // 2
    path.write_bytes(whole[:middle] + whole[middle + 100 :])
    with pytest.raises(DamagedDocumentError) as caught:
        "".join(open_document(path))
    assert str(caught.value).startswith("holed.docx is damaged (")


# -- fuzzing -------------------------------------------------------------------------------


def _break_a_member(data: bytes, rng: random.Random) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        victim = rng.choice(old.infolist()).filename
        how = rng.choice(["cut", "garbage", "empty", "drop", "scribble"])
        for info in old.infolist():
            member = old.read(info)
            if info.filename == victim:
                if how == "drop":
                    continue
                if how == "cut":
                    member = member[: rng.randrange(len(member) + 1)]
                elif how == "garbage":
                    member = rng.randbytes(rng.randrange(1, 300))
                elif how == "empty":
                    member = b""
                else:
                    scribbled = bytearray(member)
                    for _ in range(rng.randrange(1, 12)):
                        if scribbled:
                            scribbled[rng.randrange(len(scribbled))] = rng.randrange(256)
                    member = bytes(scribbled)
            new.writestr(info, member)
    return out.getvalue()


def _variant(whole: bytes, rng: random.Random) -> bytes:
    data = bytearray(whole)
    how = rng.choice(["truncate", "delete", "overwrite", "member", "member"])
    if how == "truncate":
        return bytes(data[: rng.randrange(len(data))])
    if how == "delete":
        start = rng.randrange(len(data))
        del data[start : start + rng.randrange(1, 400)]
        return bytes(data)
    if how == "overwrite":
        for _ in range(rng.randrange(1, 24)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    return _break_a_member(whole, rng)


@pytest.mark.parametrize(
    ("name", "build", "text"),
    [("book.epub", build_epub, BOOK_TEXT), ("report.docx", build_docx, DOCX_TEXT)],
    ids=["epub", "docx"],
)
def test_fuzzed_archives_read_or_raise_input_errors(
    tmp_path: Path, name: str, build: Callable[[Path], Path], text: str
) -> None:
    whole = build(tmp_path / f"whole-{name}").read_bytes()
    rng = random.Random(20240611)
    outcomes: dict[str, int] = {}
    for number in range(VARIANTS):
        path = tmp_path / f"{number}-{name}"
        path.write_bytes(_variant(whole, rng))
        try:
            read = "".join(open_document(path))
        except InputError as error:
            named = path.name in str(error)
            outcome = type(error).__name__ if named else f"unnamed {error}"
        else:
            outcome = "read" if read == text else "read partly"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert not [outcome for outcome in outcomes if outcome.startswith("unnamed")], outcomes
    # The variants really are damaged (most refused) and not all beyond reading.
    assert outcomes.get("DamagedDocumentError", 0) > VARIANTS // 3, outcomes
    assert outcomes.get("read", 0) > 0, outcomes
