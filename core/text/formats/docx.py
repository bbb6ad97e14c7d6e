"""Word documents (.docx) to prose blocks, with python-docx.

Paragraphs and tables come in document order. Paragraphs styled "Title", "Heading 1" or
"Heading 2" (or a localised style based on them) start chapters; list paragraphs that follow
one another become one block, one item per line; a table becomes one block, one row per line,
its cells joined by a comma (a merged cell, which python-docx returns once per grid column it
spans, is read once).

Memory: python-docx parses the whole document.xml; the text of even a long report is a few
MB, and a Word file's pictures are not decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from ...errors import DamagedDocumentError
from ..document import Block, clean_inline
from .archive import ARCHIVE_ERRORS, archive_error

__all__ = ["open_docx"]

_CHAPTER_STYLES = frozenset({"title", "heading 1", "heading 2"})
_INCOMPLETE = (PackageNotFoundError, KeyError, AttributeError, TypeError, IndexError)
"""What python-docx raises on a package that lacks a part or is not built as it expects."""


def open_docx(path: Path) -> Iterator[Block]:
    """Parse ``path`` now (a damaged file fails here), then yield its blocks."""
    try:
        document = docx.Document(str(path))
    except SyntaxError as exc:  # lxml's XMLSyntaxError: a part of the package is not XML
        raise _corrupt(path) from exc
    except _INCOMPLETE as exc:
        raise DamagedDocumentError(
            f"{path.name} is damaged (it is not a complete Word document)."
        ) from exc
    except ARCHIVE_ERRORS as exc:
        raise archive_error(path, exc) from exc
    return _checked(path, _blocks(document))


def _corrupt(path: Path) -> DamagedDocumentError:
    return DamagedDocumentError(f"{path.name} is damaged (its text part is corrupt).")


def _checked(path: Path, blocks: Iterator[Block]) -> Iterator[Block]:
    """``blocks``, with python-docx's surprise at a strangely built part made a damaged file."""
    try:
        yield from blocks
    except (*_INCOMPLETE, ValueError) as exc:
        raise _corrupt(path) from exc


def _blocks(document: Any) -> Iterator[Block]:
    items: list[str] = []  # consecutive list paragraphs
    for part in document.iter_inner_content():
        styles = _style_names(part) if isinstance(part, Paragraph) else set()
        heading = bool(styles & _CHAPTER_STYLES)
        if isinstance(part, Paragraph) and not heading and _is_list_item(part, styles):
            items.append(part.text)
            continue
        if items:
            yield Block("\n".join(items))
            items.clear()
        if isinstance(part, Table):
            yield Block("\n".join(_rows(part)))
        elif isinstance(part, Paragraph):
            title = clean_inline(part.text)
            yield Block(part.text, title if heading and title else None)
    if items:
        yield Block("\n".join(items))


def _rows(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # the same merged cell again
                continue
            seen.add(id(cell._tc))
            text = clean_inline(cell.text)
            if text:
                cells.append(text)
        if cells:
            yield ", ".join(cells)


def _style_names(paragraph: Paragraph) -> set[str]:
    """The paragraph's style name and the names it is based on, lower-cased."""
    names: set[str] = set()
    style = paragraph.style
    while style is not None and len(names) < 8:
        names.add(str(style.name or "").lower())
        style = style.base_style
    return names


def _is_list_item(paragraph: Paragraph, styles: set[str]) -> bool:
    properties = paragraph._p.pPr
    numbered = properties is not None and properties.numPr is not None
    return numbered or any(name.startswith("list") for name in styles)
