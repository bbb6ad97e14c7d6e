"""Real documents built by the tests themselves: PDF (reportlab), EPUB (ebooklib), Word (docx).

Nothing is downloaded or checked in: each builder writes a small but genuine file, made by the
same kind of tool that makes the files users have, so the readers meet real structure (a PDF
outline and content streams, an EPUB spine with a nav, Word styles and tables).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import docx
from ebooklib import epub
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

PdfPage = tuple[str | None, Sequence[str]]
"""A bookmark title (or None) and the body lines of one page ("" leaves a gap)."""

REPORT_PAGES: list[PdfPage] = [
    (
        "Introduction",
        [
            "Introduction",
            "",
            "Narration turns long documents into speech, one sentence after another, so that a",
            "listener can follow a long report while the eyes rest. This paragraph is an exam-",
            "ple of text that wraps over several lines of the page.",
            "",
            "A second paragraph starts here and runs on to the next page, because it is long and",
            "because the typesetting of a page follows well-known rules that happily break a well-",
            "known paragraph across the bottom of one page and the top of the next one in the",
        ],
    ),
    (
        None,
        [
            "middle of a sentence, which the reader mends quietly.",
            "",
            "The third paragraph is short.",
        ],
    ),
    (
        "Results",
        [
            "Results",
            "",
            "The results fill this page with a single sentence that is long enough to wrap",
            "onto a second line and end here.",
        ],
    ),
]

REPORT_TEXT = (
    "Introduction\n\n"
    "Narration turns long documents into speech, one sentence after another, so that a "
    "listener can follow a long report while the eyes rest. This paragraph is an example of "
    "text that wraps over several lines of the page.\n\n"
    "A second paragraph starts here and runs on to the next page, because it is long and "
    "because the typesetting of a page follows well-known rules that happily break a "
    "well-known paragraph across the bottom of one page and the top of the next one in the "
    "middle of a sentence, which the reader mends quietly.\n\n"
    "The third paragraph is short.\n\n"
    "Results\n\n"
    "The results fill this page with a single sentence that is long enough to wrap onto a "
    "second line and end here."
)
"""What the reader must make of REPORT_PAGES: no header, footer or page number left."""


def build_pdf(
    path: Path,
    pages: Sequence[PdfPage] = REPORT_PAGES,
    *,
    outline: bool = True,
    running_lines: bool = True,
    encrypt: StandardEncryption | str | None = None,
) -> Path:
    """A PDF with a running header, a footer with the page count and a bare page number."""
    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    for number, (title, lines) in enumerate(pages, 1):
        if running_lines:
            pdf.setFont("Helvetica", 9)
            pdf.drawString(72, 800, "VoxTray Test Report")
        if title and outline:
            pdf.bookmarkPage(f"page{number}")
            pdf.addOutlineEntry(title, f"page{number}", level=0)
        pdf.setFont("Helvetica", 11)
        y = 760.0
        for line in lines:
            if line:
                pdf.drawString(72, y, line)
            y -= 14 if line else 24
        if running_lines:
            pdf.setFont("Helvetica", 9)
            pdf.drawString(72, 52, f"Draft {number}/{len(pages)} - do not circulate")
            pdf.drawString(290, 40, str(number))
        pdf.showPage()
    pdf.save()
    return path


def build_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF whose pages are only pictures, as a scanner makes them."""
    picture = Image.new("RGB", (120, 160), "white")
    for x in range(10, 110):
        picture.putpixel((x, 40), (0, 0, 0))
    data = io.BytesIO()
    picture.save(data, format="PNG")
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        data.seek(0)
        pdf.drawImage(ImageReader(data), 72, 300, width=360, height=480)
        pdf.showPage()
    pdf.save()
    return path


BOOK_TEXT = (
    "Chapter One\n\n"
    "It was a quiet morning in the valley. The kettle sang on the stove.\n\n"
    "Nobody was in a hurry.\n\n"
    "Chapter Two\n\n"
    "Nothing happened, again. The list for the market was short:\n\n"
    "tea\ntoast\nmarmalade\n\n"
    "Epilogue\n\n"
    "The end came softly."
)


def build_epub(path: Path) -> Path:
    """Three chapters and a nav; the third has no table-of-contents entry, only a heading."""
    book = epub.EpubBook()
    book.set_identifier("voxtray-test-book")
    book.set_title("A Small Book")
    book.set_language("en")
    one = epub.EpubHtml(title="The Beginning", file_name="text/one.xhtml", lang="en")
    one.content = (
        "<html><body><h1>Chapter One</h1>"
        "<p>It was a quiet <em>morning</em> in the valley. The kettle sang on the stove.</p>"
        "<p>Nobody was in a hurry.</p></body></html>"
    )
    two = epub.EpubHtml(title="The Middle", file_name="text/two.xhtml", lang="en")
    two.content = (
        "<html><body><h2>Chapter Two</h2>"
        "<p>Nothing happened, <a href='one.xhtml'>again</a>. The list for the market was short:"
        "</p><ul><li>tea</li><li>toast</li><li>marmalade</li></ul></body></html>"
    )
    three = epub.EpubHtml(title="Epilogue", file_name="text/three.xhtml", lang="en")
    three.content = "<html><body><h1>Epilogue</h1><p>The end came softly.</p></body></html>"
    for item in (one, two, three):
        book.add_item(item)
    book.toc = [
        epub.Link("text/one.xhtml", "The Beginning", "one"),
        epub.Link("text/two.xhtml#start", "The Middle", "two"),
    ]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", one, two, three]
    epub.write_epub(str(path), book)
    return path


def build_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Annual Report", level=0)
    document.add_paragraph("This report   covers the whole year.")
    document.add_heading("Sales", level=1)
    document.add_paragraph("Sales grew in every region.")
    document.add_paragraph("North led", style="List Bullet")
    document.add_paragraph("South followed", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, cells in enumerate([("Region", "Total"), ("North", "12"), ("South", "9")]):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    document.add_heading("Outlook", level=2)
    document.add_heading("Small print", level=3)
    document.add_paragraph("Figures are rounded.")
    document.save(str(path))
    return path


DOCX_TEXT = (
    "Annual Report\n\n"
    "This report covers the whole year.\n\n"
    "Sales\n\n"
    "Sales grew in every region.\n\n"
    "North led\nSouth followed\n\n"
    "Region, Total\nNorth, 12\nSouth, 9\n\n"
    "Outlook\n\n"
    "Small print\n\n"
    "Figures are rounded."
)


def build_book(
    path: Path, chapters: Sequence[str], *, pictures: int = 0, picture_bytes: int = 1000
) -> Path:
    """An EPUB 3 book of ``chapters`` (XHTML bodies), each titled "Part N" in the nav and the
    NCX, with ``pictures`` images in the manifest that no chapter shows."""
    book = epub.EpubBook()
    book.set_identifier("voxtray-test-book-of-parts")
    book.set_title("Parts")
    book.set_language("en")
    items = []
    for number, body in enumerate(chapters, 1):
        item = epub.EpubHtml(title=f"Part {number}", file_name=f"text/{number}.xhtml", lang="en")
        item.content = f"<html><body>{body}</body></html>"
        book.add_item(item)
        items.append(item)
    for number in range(pictures):
        book.add_item(
            epub.EpubImage(
                uid=f"picture{number}",
                file_name=f"images/{number}.png",
                media_type="image/png",
                content=bytes([number % 256]) * picture_bytes,
            )
        )
    book.toc = [epub.Link(item.file_name, item.title, f"part{n}") for n, item in enumerate(items)]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return path
