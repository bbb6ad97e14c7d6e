"""EPUB books to prose blocks, with ebooklib.

The spine is the reading order; each linear spine item is one chapter, read through the HTML
reader. The chapter's title comes from the book's table of contents (the EPUB 3 nav or the
EPUB 2 NCX, whichever ebooklib finds), else from the item's first ``<h1>``/``<h2>``; an item
with neither (a cover, a copyright page) is read without a chapter mark. The nav document and
non-linear items (pop-up notes) are not read: a table of contents read aloud is noise.

Books with DRM are refused up front: their ``META-INF/encryption.xml`` lists content encrypted
with anything other than the font obfuscation every EPUB tool applies, which only hides fonts.

Memory: ebooklib loads every item of the archive when it opens the book, so a book costs about
its uncompressed size (text is small; a picture book costs more); the text is then extracted
one spine item at a time.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import ebooklib
from ebooklib import epub

from ...errors import DamagedDocumentError, ProtectedDocumentError
from ..document import Block
from .html import html_blocks

__all__ = ["open_epub"]

_FONT_OBFUSCATION = frozenset(
    {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
)
_ALGORITHM = re.compile(rb"""Algorithm\s*=\s*["']([^"']+)["']""")


def open_epub(path: Path, archive: zipfile.ZipFile) -> Iterator[Block]:
    """Check and load the book now, then yield its chapters' blocks in spine order.

    ``archive`` is the already opened ZIP (the caller sniffed it) for the DRM check.
    """
    _refuse_drm(path, archive)
    try:
        # ignore_ncx=False, given explicitly: use the NCX of EPUB 2 books too, and keep
        # ebooklib from warning that its default will change.
        book = epub.read_epub(str(path), options={"ignore_ncx": False})
    except (
        epub.EpubException,
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        ValueError,
        SyntaxError,
    ) as exc:
        # KeyError: a file the package names is missing; SyntaxError: lxml's XML errors.
        raise DamagedDocumentError(f"{path.name} is damaged (its {_part(exc)} is broken).") from exc
    except (EOFError, zipfile.LargeZipFile) as exc:
        raise DamagedDocumentError(f"{path.name} is damaged (the archive is truncated).") from exc
    return _blocks(book)


def _part(exc: BaseException) -> str:
    return "table of contents or package file" if not isinstance(exc, KeyError) else "contents"


def _refuse_drm(path: Path, archive: zipfile.ZipFile) -> None:
    try:
        manifest = archive.read("META-INF/encryption.xml")
    except KeyError:
        return
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DamagedDocumentError(f"{path.name} is damaged (the archive is corrupt).") from exc
    algorithms = {match.decode("ascii", "replace") for match in _ALGORITHM.findall(manifest)}
    if algorithms - _FONT_OBFUSCATION:
        raise ProtectedDocumentError(
            f"{path.name} is protected by DRM: VoxTray cannot read protected books."
        )


def _blocks(book: Any) -> Iterator[Block]:
    titles = _toc_titles(book.toc)
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or str(linear).lower() == "no" or _is_nav(item):
            continue
        if item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        blocks = list(html_blocks(item.get_content()))
        title = titles.get(_normal_href(item.get_name()))
        if title is None:
            title = next((block.chapter for block in blocks if block.chapter), None)
        for index, block in enumerate(blocks):
            yield Block(block.text, title if index == 0 else None)


def _is_nav(item: Any) -> bool:
    return isinstance(item, epub.EpubNav) or "nav" in (getattr(item, "properties", None) or [])


def _toc_titles(toc: Any) -> dict[str, str]:
    """File name → the first table-of-contents title that points into it."""
    titles: dict[str, str] = {}
    stack = list(reversed(list(toc or [])))
    while stack:
        entry = stack.pop()
        if isinstance(entry, tuple | list):
            section, children = entry[0], entry[1] if len(entry) > 1 else []
            stack.extend(reversed(list(children or [])))
            stack.append(section)
            continue
        href = getattr(entry, "href", None) or getattr(entry, "file_name", None)
        title = getattr(entry, "title", None)
        if href and title:
            titles.setdefault(_normal_href(str(href)), str(title))
    return titles


def _normal_href(href: str) -> str:
    return posixpath.normpath(unquote(href.split("#", 1)[0]))
