"""EPUB books to prose blocks, read straight from the ZIP archive, a chapter at a time.

The spine is the reading order; each linear spine item is one chapter, read through the HTML
reader. The chapter's title comes from the book's table of contents (the EPUB 2 NCX, else the
EPUB 3 nav), else from the item's first ``<h1>``/``<h2>``; an item with neither (a cover, a
copyright page) is read without a chapter mark. The nav document and non-linear items (pop-up
notes) are not read: a table of contents read aloud is noise.

Books with DRM are refused up front: their ``META-INF/encryption.xml`` lists content encrypted
with anything other than the font obfuscation every EPUB tool applies, which only hides fonts.

Why not ebooklib: it reads every item of the archive, pictures included, before the first word
(a 30 MB picture book costs its whole size in memory), and a package file that is broken or
lacks a part it expects crashes it with ``AttributeError`` or ``TypeError``. The package
(OPF), the container and the NCX are small XML files, read here with the standard library; the
chapters are XHTML and go to the HTML reader.

When the book is opened, only the files that describe it are read: the container, the package,
the table of contents. A failure there (a missing or broken package, a chapter listed but
absent from the archive) is a :class:`DamagedDocumentError` at once. Each chapter is read and
parsed when the stream reaches it, so memory is that of one chapter; a chapter the archive
cannot give back is a :class:`DamagedDocumentError` then. A broken table of contents costs the
chapter titles (headings name the chapters instead), not the book.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

from ...errors import DamagedDocumentError, ProtectedDocumentError
from ..document import Block, clean_inline
from .archive import ARCHIVE_ERRORS, archive_error
from .html import html_blocks, nav_links

__all__ = ["open_epub"]

_FONT_OBFUSCATION = frozenset(
    {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
)
_ALGORITHM = re.compile(rb"""Algorithm\s*=\s*["']([^"']+)["']""")
_CONTAINER = "META-INF/container.xml"
_PACKAGE_TYPE = "application/oebps-package+xml"
_NCX_TYPE = "application/x-dtbncx+xml"
_DOCUMENT_TYPES = frozenset({"application/xhtml+xml", "text/html"})
_XML_ERRORS = (KeyError, SyntaxError)
"""A file the book names is not in the archive; a file is not well-formed XML (ParseError)."""
_TOC_ERRORS: tuple[type[Exception], ...] = (*ARCHIVE_ERRORS, *_XML_ERRORS)


@dataclass(frozen=True, slots=True)
class _Item:
    """A file of the book's manifest."""

    member: str
    """Its name in the archive."""
    media_type: str
    properties: frozenset[str]


def open_epub(path: Path, archive: zipfile.ZipFile) -> Iterator[Block]:
    """Check the book now, then yield its chapters' blocks in spine order as they are read.

    ``archive`` is the already opened ZIP (the caller sniffed it); it must stay open until
    the stream is done with.
    """
    _refuse_drm(path, archive)
    try:
        package = _package_member(_xml(archive, _CONTAINER))
        items, spine, toc = _manifest_and_spine(_xml(archive, package), posixpath.dirname(package))
    except ARCHIVE_ERRORS as exc:
        raise archive_error(path, exc) from exc
    except _XML_ERRORS as exc:
        raise DamagedDocumentError(f"{path.name} is damaged (its package file is broken).") from exc
    chapters = list(_readable(items, spine))
    present = set(archive.namelist())
    if any(item.member not in present for item in chapters):
        raise DamagedDocumentError(f"{path.name} is damaged (a chapter it lists is missing).")
    titles = _toc_titles(archive, items, toc)
    return _blocks(path, archive, chapters, titles)


def _refuse_drm(path: Path, archive: zipfile.ZipFile) -> None:
    try:
        manifest = archive.read("META-INF/encryption.xml")
    except KeyError:
        return
    except ARCHIVE_ERRORS as exc:
        raise archive_error(path, exc) from exc
    algorithms = {match.decode("ascii", "replace") for match in _ALGORITHM.findall(manifest)}
    if algorithms - _FONT_OBFUSCATION:
        raise ProtectedDocumentError(
            f"{path.name} is protected by DRM: VoxTray cannot read protected books."
        )


def _xml(archive: zipfile.ZipFile, member: str) -> ElementTree.Element:
    # The standard parser fetches no external entity, and the expat it ships refuses
    # exponential entity expansion ("billion laughs"): safe for files from anywhere.
    return ElementTree.fromstring(archive.read(member))


def _local(tag: str) -> str:
    """An element's name without its namespace: books get namespaces wrong often enough."""
    return tag.rpartition("}")[2]


def _package_member(container: ElementTree.Element) -> str:
    rootfiles = [el for el in container.iter() if _local(el.tag) == "rootfile"]
    chosen = next((el for el in rootfiles if el.get("media-type") == _PACKAGE_TYPE), None)
    chosen = chosen if chosen is not None else next(iter(rootfiles), None)
    member = chosen.get("full-path") if chosen is not None else None
    if not member:
        raise KeyError("the container names no package file")
    return posixpath.normpath(member)


def _manifest_and_spine(
    package: ElementTree.Element, base: str
) -> tuple[dict[str, _Item], list[tuple[str, bool]], str]:
    """The manifest (id → item), the spine (id, linear) and the id of the NCX, if named."""
    items: dict[str, _Item] = {}
    spine: list[tuple[str, bool]] = []
    toc = ""
    for element in package.iter():
        name = _local(element.tag)
        if name == "item" and element.get("id") and element.get("href"):
            items[element.get("id", "")] = _Item(
                _member(base, element.get("href", "")),
                element.get("media-type", ""),
                frozenset(element.get("properties", "").split()),
            )
        elif name == "spine":
            toc = element.get("toc", "")
        elif name == "itemref":
            spine.append((element.get("idref", ""), element.get("linear", "").lower() != "no"))
    return items, spine, toc


def _readable(items: dict[str, _Item], spine: Iterable[tuple[str, bool]]) -> Iterator[_Item]:
    for idref, linear in spine:
        item = items.get(idref)
        if item is None or not linear or "nav" in item.properties:
            continue
        if item.media_type in _DOCUMENT_TYPES:
            yield item


def _member(base: str, href: str) -> str:
    """The archive member an ``href`` relative to the file in folder ``base`` points at."""
    return posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))


def _toc_titles(archive: zipfile.ZipFile, items: dict[str, _Item], toc: str) -> dict[str, str]:
    """Archive member → the first table-of-contents title that points into it."""
    ncx = items.get(toc) or next((i for i in items.values() if i.media_type == _NCX_TYPE), None)
    nav = next((item for item in items.values() if "nav" in item.properties), None)
    for item, links in ((ncx, _ncx_links), (nav, nav_links)):
        if item is None:
            continue
        titles: dict[str, str] = {}
        try:
            for href, title in links(archive.read(item.member)):
                if href and title:
                    titles.setdefault(_member(posixpath.dirname(item.member), href), title)
        except _TOC_ERRORS:
            continue  # a broken table of contents costs the titles, not the book
        if titles:
            return titles
    return {}


def _ncx_links(data: bytes) -> list[tuple[str, str]]:
    """(target, title) of each entry of an EPUB 2 NCX, in document order."""
    links: list[tuple[str, str]] = []
    for point in ElementTree.fromstring(data).iter():
        if _local(point.tag) != "navPoint":
            continue
        label = next((el for el in point if _local(el.tag) == "navLabel"), None)
        content = next((el for el in point if _local(el.tag) == "content"), None)
        if label is not None and content is not None:
            links.append((content.get("src", ""), clean_inline("".join(label.itertext()))))
    return links


def _blocks(
    path: Path, archive: zipfile.ZipFile, chapters: list[_Item], titles: dict[str, str]
) -> Iterator[Block]:
    for item in chapters:
        try:
            markup = archive.read(item.member)
        except ARCHIVE_ERRORS as exc:
            raise archive_error(path, exc) from exc
        blocks = list(html_blocks(markup, page=False))
        title = titles.get(item.member)
        if title is None:
            title = next((block.chapter for block in blocks if block.chapter), None)
        for index, block in enumerate(blocks):
            yield Block(block.text, title if index == 0 else None)
