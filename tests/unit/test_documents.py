"""Reading documents: each format's clean text and chapter marks, and bad files refused by name."""

from __future__ import annotations

import hashlib
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from pypdf import PageObject
from reportlab.lib.pdfencrypt import StandardEncryption
from voxtray.core.errors import (
    BinaryFileError,
    DamagedDocumentError,
    ProtectedDocumentError,
    SourceNotFoundError,
    UnsupportedDocumentError,
)
from voxtray.core.text.readers import (
    Chapter,
    DocumentStream,
    open_document,
    open_text,
    probe_document,
)
from voxtray.core.text.segment import segment_text

from tests.harness.documents import (
    BOOK_TEXT,
    DOCX_TEXT,
    REPORT_PAGES,
    REPORT_TEXT,
    build_docx,
    build_epub,
    build_pdf,
    build_scanned_pdf,
)


def read(path: Path) -> tuple[str, list[Chapter], list[str]]:
    warnings: list[str] = []
    stream = open_document(path, on_warning=warnings.append)
    text = "".join(stream)
    return text, stream.chapters, warnings


def assert_chapters_start(text: str, chapters: list[Chapter], openings: list[str]) -> None:
    assert len(chapters) == len(openings), chapters
    for chapter, opening in zip(chapters, openings, strict=True):
        assert text[chapter.offset :].startswith(opening), (chapter, text[chapter.offset :][:40])


# -- Markdown -------------------------------------------------------------------------

MARKDOWN = """\
# Getting *started*

Install it with `pip`, then read the [guide](https://example.org/guide "The guide").
A soft-wrapped line joins its paragraph.

![a screenshot](shot.png)

- first item
- second item with **bold**
  - nested item

## Options

| Name | Default |
|------|---------|
| rate | 1.0     |

```python
print("code is handed on fenced")
```

<div class="note">Raw <b>HTML</b> keeps its text.</div>

### Details

Last words.
"""

MARKDOWN_TEXT = (
    "Getting started\n\n"
    "Install it with pip, then read the guide. A soft-wrapped line joins its paragraph.\n\n"
    "first item\nsecond item with bold\nnested item\n\n"
    "Options\n\n"
    "Name, Default\nrate, 1.0\n\n"
    '```\nprint("code is handed on fenced")\n```\n\n'
    "Raw HTML keeps its text.\n\n"
    "Details\n\n"
    "Last words."
)


def test_markdown_keeps_link_text_and_drops_markup(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    text, chapters, warnings = read(path)
    assert text == MARKDOWN_TEXT
    assert chapters == [
        Chapter("Getting started", 0),
        Chapter("Options", MARKDOWN_TEXT.index("Options")),
    ]
    assert warnings == []
    assert probe_document(path) == "md"


# -- HTML -----------------------------------------------------------------------------

PAGE = """\
<!DOCTYPE html>
<html><head><title>Site title</title>
<style>body { color: red }</style><script>var menu = "Home";</script></head>
<body>
<header><a href="/">Logo</a></header>
<nav><ul><li><a href="/">Home</a></li><li>About</li></ul></nav>
<main>
  <h1>The <em>main</em> story</h1>
  <p>First paragraph with a <a href="/x">link</a>&nbsp;and an image
     <img src="a.png" alt="chart">.</p>
  <p>Second line<br>after a break.</p>
  <aside>Related: other stories</aside>
  <h2>Numbers</h2>
  <table><tr><th>Year</th><th>Sales</th></tr><tr><td>2023</td><td>7</td></tr></table>
  <ol><li>one</li><li>two</li></ol>
  <h3>Aside heading</h3>
  <p hidden>Hidden text.</p><script>ignored()</script>
  <p>The end.</p>
</main>
<footer>Copyright</footer>
</body></html>
"""

PAGE_TEXT = (
    "The main story\n\n"
    "First paragraph with a link and an image .\n\n"
    "Second line\nafter a break.\n\n"
    "Numbers\n\n"
    "Year, Sales\n2023, 7\n\n"
    "one\ntwo\n\n"
    "Aside heading\n\n"
    "The end."
)


def test_html_reads_the_main_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    text, chapters, _ = read(path)
    assert text == PAGE_TEXT
    assert_chapters_start(text, chapters, ["The main story", "Numbers"])
    assert [chapter.title for chapter in chapters] == ["The main story", "Numbers"]


def test_html_without_main_uses_the_body_and_is_recognised_without_extension(
    tmp_path: Path,
) -> None:
    path = tmp_path / "saved-page"
    path.write_bytes(
        b"\xef\xbb\xbf  <!doctype HTML><html><body><nav>Menu</nav>"
        b"<div><p>Caf\xc3\xa9 society.</p></div><footer>Foot</footer></body></html>"
    )
    assert probe_document(path) == "html"
    assert read(path)[0] == "Café society."


BLOG = """\
<html><body>
<header><a href="/">My Blog</a> <p>Thoughts on things</p></header>
<nav>Home | Archive</nav>
<article>
  <header><h1>An article's title</h1><p class="byline">By Ada, 3 May</p></header>
  <p>The article starts.</p>
  <section><header><h2>A section</h2></header><p>Its text.</p></section>
  <nav>Contents: A section</nav>
  <footer>Filed under: things</footer>
</article>
<footer>Copyright 2024</footer>
</body></html>
"""


def test_html_skips_the_page_header_and_footer_not_the_article_ones(tmp_path: Path) -> None:
    """The single article is the root; its header holds the title, its footer the filing line.
    The page's own header, nav and footer sit outside it and are skipped."""
    path = tmp_path / "post.html"
    path.write_text(BLOG, encoding="utf-8")
    text, chapters, _ = read(path)
    assert text == (
        "An article's title\n\nBy Ada, 3 May\n\nThe article starts.\n\n"
        "A section\n\nIts text.\n\nFiled under: things"
    )
    assert [chapter.title for chapter in chapters] == ["An article's title", "A section"]


def test_html_page_header_is_skipped_when_the_body_is_the_root(tmp_path: Path) -> None:
    path = tmp_path / "two.html"
    path.write_text(
        "<body><header>Site name</header><article><header><h1>One</h1></header><p>1.</p>"
        "</article><article><h1>Two</h1><p>2.</p></article><footer>Legal</footer></body>",
        encoding="utf-8",
    )
    assert read(path)[0] == "One\n\n1.\n\nTwo\n\n2."


# -- Word -----------------------------------------------------------------------------


def test_docx_paragraphs_headings_lists_and_tables(tmp_path: Path) -> None:
    path = build_docx(tmp_path / "report.docx")
    text, chapters, _ = read(path)
    assert text == DOCX_TEXT
    assert [chapter.title for chapter in chapters] == ["Annual Report", "Sales", "Outlook"]
    assert_chapters_start(text, chapters, ["Annual Report\n\nThis", "Sales\n\nSales", "Outlook"])
    assert probe_document(path) == "docx"


# -- EPUB -----------------------------------------------------------------------------


def test_epub_chapters_in_spine_order_titled_from_the_nav(tmp_path: Path) -> None:
    path = build_epub(tmp_path / "book.epub")
    text, chapters, _ = read(path)
    assert text == BOOK_TEXT  # the nav document itself is not read aloud
    # Titles from the table of contents; the third has no entry there, so its heading names it.
    assert [chapter.title for chapter in chapters] == ["The Beginning", "The Middle", "Epilogue"]
    assert_chapters_start(text, chapters, ["Chapter One", "Chapter Two", "Epilogue"])
    assert probe_document(path) == "epub"


# -- PDF ------------------------------------------------------------------------------


def test_pdf_text_is_rejoined_and_running_lines_are_dropped(tmp_path: Path) -> None:
    path = build_pdf(tmp_path / "report.pdf")
    text, chapters, warnings = read(path)
    assert text == REPORT_TEXT
    assert "VoxTray Test Report" not in text and "circulate" not in text
    assert [chapter.title for chapter in chapters] == ["Introduction", "Results"]
    assert_chapters_start(text, chapters, ["Introduction\n\nNarration", "Results\n\nThe results"])
    assert warnings == []


def test_pdf_without_an_outline_has_no_chapters(tmp_path: Path) -> None:
    path = build_pdf(tmp_path / "plain.pdf", outline=False)
    text, chapters, _ = read(path)
    assert text == REPORT_TEXT
    assert chapters == []


HYPHENATION_CASES = [
    # No evidence in the document: a soft hyphen, except after a compound prefix.
    (["The committee found the argument rather uncon-", "vincing in the end."], "unconvincing"),
    (["She gave a long and thoroughly self-", "assured answer to them."], "self-assured"),
    # A capital or a digit after the hyphen: a real hyphen (names, "pre-1990").
    (["The painter Anne-Marie worked in the years before Jean-", "Paul."], "Jean-Paul"),
    # The document itself says how the word is written elsewhere.
    (["Cooperation matters. We rely on co-", "operation every day of the week."], "cooperation"),
    (["A co-pilot flew. The plane had a young co-", "pilot in the right seat."], "co-pilot in"),
]


@pytest.mark.parametrize(("lines", "joined"), HYPHENATION_CASES)
def test_pdf_end_of_line_hyphens(tmp_path: Path, lines: list[str], joined: str) -> None:
    path = build_pdf(tmp_path / "hyphens.pdf", [(None, lines)], running_lines=False)
    text = read(path)[0]
    assert joined in text
    assert "\n" not in text


def test_pdf_pages_are_read_as_they_are_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each page opens differently (a line repeated at the top of every page is a header).
    line = "Every page of this long document carries one sentence that ends right here."
    pages = [(None, [f"Section {chr(65 + n % 26)}{n} opens.", line]) for n in range(40)]
    path = build_pdf(tmp_path / "long.pdf", pages)
    extracted: list[int] = []
    original = PageObject.extract_text

    def counting(page: PageObject, *args: object, **kwargs: object) -> str:
        extracted.append(1)
        return original(page, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PageObject, "extract_text", counting)
    with open_document(path) as stream:
        assert next(stream).startswith("Section A0 opens.")
        assert len(extracted) <= 1 + 5  # the check of the first page, then a 4-page look-ahead
        rest = "".join(stream)
    assert "Section N39 opens." in rest
    assert "Draft" not in rest and "VoxTray Test Report" not in rest


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    """Print/copy restrictions encrypt a PDF with an empty user password: any viewer opens it."""
    encryption = StandardEncryption("", ownerPassword="owner-secret", canCopy=0)
    path = build_pdf(tmp_path / "restricted.pdf", encrypt=encryption)
    assert read(path)[0] == REPORT_TEXT


# -- plain text -----------------------------------------------------------------------


def test_plain_text_streams_as_before(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"Caf\xe9 cr\xe8me.\r\nSecond line.\r\n")
    text, chapters, warnings = read(path)
    assert text == "Café crème.\nSecond line.\n" == "".join(open_text(path))
    assert chapters == []
    assert warnings == ["notes.txt is not UTF-8, so it was read as Windows-1252."]
    assert probe_document(path) == "txt"


def test_chapter_offsets_are_segment_offsets(tmp_path: Path) -> None:
    """The segmenter's offsets and the chapters' share one coordinate system."""
    path = build_epub(tmp_path / "book.epub")
    stream = open_document(path)
    segments = list(segment_text(stream, max_chars=400))
    starts = {segment.start for segment in segments}
    assert all(chapter.offset in starts for chapter in stream.chapters)


def test_fifty_megabytes_of_text_stream_with_flat_memory(tmp_path: Path) -> None:
    line = b"A long line of narration, repeated until the file is fifty megabytes.\n"
    path = tmp_path / "big.txt"
    block = line * 10_000
    repeats = 50_000_000 // len(block) + 1
    with path.open("wb") as file:
        for _ in range(repeats):
            file.write(block)
    expected = hashlib.sha256(block * repeats).hexdigest()
    del block

    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        stream = open_document(path)
        for piece in stream:
            digest.update(piece.encode())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == expected
    assert peak < 2_000_000, f"peak {peak} bytes while streaming a 50 MB file"


# -- bad documents --------------------------------------------------------------------


def test_truncated_epub(tmp_path: Path) -> None:
    whole = build_epub(tmp_path / "whole.epub").read_bytes()
    path = tmp_path / "book.epub"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(DamagedDocumentError) as caught:
        open_document(path)
    assert str(caught.value) == "book.epub is damaged (the archive is truncated)."


def test_epub_with_a_missing_chapter_file(tmp_path: Path) -> None:
    source = build_epub(tmp_path / "whole.epub")
    path = tmp_path / "holey.epub"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            if not info.filename.endswith("two.xhtml"):
                new.writestr(info, old.read(info))
    with pytest.raises(DamagedDocumentError, match=r"^holey\.epub is damaged \("):
        open_document(path)


def test_epub_with_drm_is_refused(tmp_path: Path) -> None:
    source = build_epub(tmp_path / "whole.epub")
    path = tmp_path / "locked.epub"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        new.writestr(
            "META-INF/encryption.xml",
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
            '<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            "</EncryptedData></encryption>",
        )
    with pytest.raises(ProtectedDocumentError) as caught:
        open_document(path)
    assert str(caught.value) == (
        "locked.epub is protected by DRM: VoxTray cannot read protected books."
    )


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = build_pdf(tmp_path / "report.pdf", encrypt="user-secret")
    with pytest.raises(ProtectedDocumentError) as caught:
        open_document(path)
    assert str(caught.value) == "report.pdf is encrypted: VoxTray cannot read protected PDFs."


def test_pdf_without_a_text_layer(tmp_path: Path) -> None:
    path = build_scanned_pdf(tmp_path / "scan.pdf")
    with pytest.raises(UnsupportedDocumentError) as caught:
        open_document(path)
    assert str(caught.value) == (
        "scan.pdf has no text layer (it is scanned images); VoxTray can't read it aloud."
    )


def test_truncated_pdf(tmp_path: Path) -> None:
    whole = build_pdf(tmp_path / "whole.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(whole[:400])
    with pytest.raises(DamagedDocumentError, match=r"^cut\.pdf is damaged \("):
        open_document(path)


def test_zip_that_is_neither_epub_nor_docx(tmp_path: Path) -> None:
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a book")
    with pytest.raises(UnsupportedDocumentError) as caught:
        open_document(path)
    assert str(caught.value) == (
        "photos.zip is a ZIP archive, not an EPUB book or a Word document; "
        "VoxTray cannot read it aloud."
    )


def test_corrupt_docx(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document")
    with pytest.raises(DamagedDocumentError, match=r"^broken\.docx is damaged \("):
        open_document(path)


def test_password_protected_docx_and_old_doc(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    (tmp_path / "secret.docx").write_bytes(ole)
    (tmp_path / "old.doc").write_bytes(ole)
    with pytest.raises(ProtectedDocumentError, match=r"^secret\.docx is password-protected"):
        open_document(tmp_path / "secret.docx")
    with pytest.raises(UnsupportedDocumentError, match=r"^old\.doc is an old-style Office file"):
        open_document(tmp_path / "old.doc")


def test_misnamed_pdf(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("Just some text.")
    with pytest.raises(DamagedDocumentError) as caught:
        open_document(path)
    assert str(caught.value) == "notes.pdf is not a valid PDF file (it is damaged or misnamed)."


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="No such file"):
        open_document(tmp_path / "gone.epub")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(BinaryFileError, match=r"^image\.png is not a text file"):
        open_document(tmp_path / "image.png")


def test_closing_a_stream_releases_the_pdf(tmp_path: Path) -> None:
    path = build_pdf(tmp_path / "report.pdf", REPORT_PAGES)
    stream = open_document(path)
    assert isinstance(stream, DocumentStream)
    stream.close()
    file = stream._resource
    assert file is not None and getattr(file, "closed", False)
