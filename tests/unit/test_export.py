"""The pieces of an export that need no voice: file names, and the one reading of a document."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from voxtray.core.errors import AudioError, EmptyTextError, InputError
from voxtray.core.export import (
    ExportOptions,
    ExportTargetError,
    audio_suffix,
    chapter_file,
    file_title,
)
from voxtray.core.text.readers import open_document
from voxtray.core.text.spool import SpoolStoppedError, spool_document

from tests.harness.documents import BOOK_TEXT, build_epub

# -- file names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("The Beginning", "The Beginning"),
        ("Chapter 1: Rain", "Chapter 1 - Rain"),
        ('Why? "Because" <maybe>*', "Why 'Because' maybe"),
        ("Either/Or \\ Both | None", "Either-Or - Both - None"),
        ("  Tabs\tand\nlines  ", "Tabs and lines"),
        ("Ends with dots...", "Ends with dots"),
        ("Cafe\u0301", "Café"),  # one form of é, whatever the book used
        ("???", "Chapter 7"),  # nothing left: the fallback
    ],
)
def test_titles_become_safe_file_names(title: str, expected: str) -> None:
    assert file_title(title, "Chapter 7") == expected


def test_long_titles_are_cut_at_a_word() -> None:
    title = "A very long title " * 10
    cut = file_title(title, "x")
    assert len(cut) <= 80
    assert title.startswith(cut) and not cut.endswith(" ")
    assert title[len(cut)] == " "  # cut between words, not inside one


def test_chapter_files_are_numbered_with_zero_padding() -> None:
    target = Path("/out/book.mp3")
    assert chapter_file(target, ".mp3", 1, 2, "The Beginning") == Path(
        "/out/book-01 The Beginning.mp3"
    )
    assert chapter_file(target, ".mp3", 0, 2, None) == Path("/out/book-00 Opening.mp3")
    assert chapter_file(target, ".mp3", 7, 3, "Ch. 7: End.") == Path(
        "/out/book-007 Ch. 7 - End.mp3"
    )


def test_a_target_without_extension_takes_the_format() -> None:
    options = ExportOptions(target=Path("/out/book"), format="flac")
    suffix = audio_suffix(options)
    assert suffix == ".flac"
    assert chapter_file(options.target, suffix, 2, 2, "Two") == Path("/out/book-02 Two.flac")


def test_an_unknown_format_is_refused_before_anything_is_read() -> None:
    with pytest.raises(AudioError, match="xyz"):
        audio_suffix(ExportOptions(target=Path("book.xyz")))


@pytest.mark.parametrize(
    ("name", "format"), [("out.wav", "mp3"), ("out.mp3", "WAV"), ("out.ogg", "opus")]
)
def test_a_format_that_contradicts_the_extension_is_an_input_error(name: str, format: str) -> None:
    with pytest.raises(ExportTargetError) as failure:
        audio_suffix(ExportOptions(target=Path(name), format=format))
    assert isinstance(failure.value, InputError)
    message = str(failure.value)
    assert format.lower() in message and name in message
    assert message.endswith(".") and not message.endswith("..")


@pytest.mark.parametrize(
    ("name", "format", "suffix"),
    [("out.wav", "wav", ".wav"), ("out.MP3", ".mp3", ".MP3"), ("out.oga", "ogg", ".oga")],
)
def test_a_format_that_agrees_with_the_extension_is_fine(
    name: str, format: str, suffix: str
) -> None:
    assert audio_suffix(ExportOptions(target=Path(name), format=format)) == suffix
    assert audio_suffix(ExportOptions(target=Path(name))) == suffix


def test_a_chapter_list_and_split_chapters_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="chapter"):
        ExportOptions(target=Path("b.wav"), chapter_list=True, split_chapters=True)


# -- the one reading ------------------------------------------------------------------------------


def whole_text(path: Path) -> tuple[str, list[tuple[str, int]]]:
    with open_document(path) as stream:
        text = "".join(stream)
        return text, [(c.title, c.offset) for c in stream.chapters]


def test_unsplit_spool_is_the_document_text_with_its_chapters(tmp_path: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    folder = tmp_path / "spool"
    folder.mkdir()
    spooled = spool_document(book, folder, split=False)
    (part,) = spooled.parts
    assert part.path.read_text(encoding="utf-8") == BOOK_TEXT
    assert (part.title, part.start, part.length) == (None, 0, len(BOOK_TEXT))
    assert spooled.length == len(BOOK_TEXT)
    _, chapters = whole_text(book)
    assert [(c.title, c.offset) for c in spooled.chapters] == chapters
    assert [title for title, _ in chapters] == ["The Beginning", "The Middle", "Epilogue"]


def test_split_spool_has_one_part_per_chapter_at_its_offset(tmp_path: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    spooled = spool_document(book, tmp_path, split=True)
    text, chapters = whole_text(book)
    assert [(p.title, p.start) for p in spooled.parts] == chapters  # no opening: none before
    for part, following in zip(spooled.parts, [*spooled.parts[1:], None], strict=True):
        end = following.start if following is not None else len(text)
        assert part.path.read_text(encoding="utf-8") == text[part.start : end]
        assert part.length == end - part.start


def test_text_before_the_first_chapter_is_an_untitled_part(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("A word first.\n\n# One\n\nBody one.\n\n# Two\n\nBody two.\n")
    spooled = spool_document(source, tmp_path, split=True)
    assert [(p.title, p.path.read_text()) for p in spooled.parts] == [
        (None, "A word first.\n\n"),
        ("One", "One\n\nBody one.\n\n"),
        ("Two", "Two\n\nBody two."),
    ]


def test_marks_at_one_place_make_one_part_with_the_later_title(tmp_path: Path) -> None:
    """A part and its first chapter bookmarked on one PDF page: one file, the chapter's name."""
    path = tmp_path / "parts.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pages = [
        ([("Part One", 0), ("Chapter 1", 1)], "The first chapter starts the part."),
        ([("Chapter 2", 1)], "The second chapter follows it."),
    ]
    for titles, line in pages:
        for title, level in titles:
            pdf.bookmarkPage(title)
            pdf.addOutlineEntry(title, title, level=level)
        pdf.drawString(72, 760, line)
        pdf.showPage()
    pdf.save()

    spooled = spool_document(path, tmp_path, split=True)
    assert [(c.title, c.offset) for c in spooled.chapters][:2] == [
        ("Part One", 0),
        ("Chapter 1", 0),
    ]
    assert [p.title for p in spooled.parts] == ["Chapter 1", "Chapter 2"]
    assert spooled.parts[0].start == 0


def test_control_characters_keep_their_place(tmp_path: Path) -> None:
    """Offsets in a part are offsets in the document, so nothing may grow or shrink."""
    source = tmp_path / "odd.html"
    source.write_text("<p>Bell\x07 and\rreturn and\x0bvtab.</p><h1>Next</h1><p>More.</p>")
    text, _ = whole_text(source)
    spooled = spool_document(source, tmp_path, split=False)
    spooled_text = spooled.parts[0].path.read_bytes().decode("utf-8")
    assert len(spooled_text) == len(text) == spooled.length
    assert "\r" not in spooled_text and "\x07" not in spooled_text
    # What the narrator will read from the part has the document's length too.
    with open_document(spooled.parts[0].path) as stream:
        assert len("".join(stream)) == len(text)


def test_an_empty_document_is_named(tmp_path: Path) -> None:
    source = tmp_path / "empty.md"
    source.write_text("<!-- nothing -->\n\n   \n")
    with pytest.raises(EmptyTextError, match=r"empty\.md contains no text to speak"):
        spool_document(source, tmp_path, split=True)
    assert list(tmp_path.glob("part-*")) == []


def test_a_stopped_reading_ends_between_pieces(tmp_path: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    stop = threading.Event()
    stop.set()
    with pytest.raises(SpoolStoppedError):
        spool_document(book, tmp_path, split=True, stop=stop)
