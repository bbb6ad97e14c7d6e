"""HTML to prose blocks, with selectolax (the lexbor engine).

A saved web page is mostly not the article: menus, cookie banners, scripts, share buttons.
The reader keeps the main text: ``<main>`` when the page has one, else its single
``<article>``, else the body; inside it, navigation, scripts, styles, asides, forms and anything
marked hidden are skipped, and so are the page's own header and footer, but not those of an
``<article>``, ``<main>`` or ``<section>``, which hold its title and byline. Headings become
their own block (``<h1>``/``<h2>`` also mark chapters), list items and table rows one line each
(cells joined by a comma, which a voice reads as a short pause), links their text, images
nothing: alt texts such as "Figure 3" or "logo" interrupt the prose more than they help it.

A ``<pre>`` that holds code (a ``<code>`` inside, or a class or attribute of it or its parent
naming code, as highlighters and Markdown renderers write them) becomes a fenced block, so the
user's ``[text] code`` setting applies to it as to a fence in plain text; any other ``<pre>``
(a poem, a plain-text RFC) is prose whose line breaks count.

EPUB chapters are XHTML and come through here too (``formats/epub.py``), with no page around
them: their top-level header and footer are the chapter's own.

Memory: the page is parsed whole (lexbor's tree is a few times the size of the markup);
HTML files worth narrating are small, and EPUB items are one chapter each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..document import Block, clean_inline, code_block

__all__ = ["html_blocks", "nav_links"]

_SKIPPED = frozenset(
    {
        "head", "script", "style", "noscript", "template", "nav", "aside", "form", "button",
        "select", "textarea", "svg", "math", "iframe", "object", "canvas", "img", "picture",
        "video", "audio", "map", "dialog",
    }
)  # fmt: skip
_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "main", "blockquote", "figure", "figcaption",
        "address", "dl", "dt", "dd", "hr", "center", "body", "details", "summary", "caption",
    }
)  # fmt: skip
_PAGE_CHROME = frozenset({"header", "footer"})
"""Skipped outside a sectioning element: there they are the site's banner and small print."""
_SECTIONS = frozenset({"article", "main", "section"})
_CODE_HINT = re.compile(r"code|highlight|source|program|brush|lang", re.IGNORECASE)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_LINE_GROUPS = frozenset({"ul", "ol", "table", "menu"})
_LINES = frozenset({"li", "tr"})
_CELLS = frozenset({"td", "th"})
_WHITESPACE = re.compile(r"\s+")
_CHAPTER_LEVELS = 2
"""``<h1>`` and ``<h2>`` start chapters; deeper headings are only paragraphs."""


def html_blocks(
    markup: str | bytes, *, chapters: bool = True, page: bool = True
) -> Iterator[Block]:
    """Yield the main text of ``markup`` as blocks; ``chapters=False`` marks no chapter,
    ``page=False`` says the markup is not a web page (no site header or footer to skip)."""
    tree = LexborHTMLParser(markup)
    root = _main_node(tree)
    if root is None:
        return iter(())
    walker = _Walker(chapters=chapters, page=page)
    walker.walk(root)
    return iter(walker.blocks)


def nav_links(markup: str | bytes) -> list[tuple[str, str]]:
    """(target, text) of each link of an EPUB 3 navigation document's table of contents."""
    navs = LexborHTMLParser(markup).css("nav")
    toc = next((nav for nav in navs if "toc" in _nav_types(nav)), navs[0] if navs else None)
    if toc is None:
        return []
    return [
        (link.attributes.get("href") or "", clean_inline(link.text(deep=True)))
        for link in toc.css("a[href]")
    ]


def _nav_types(nav: LexborNode) -> list[str]:
    attributes = nav.attributes
    return f"{attributes.get('epub:type') or ''} {attributes.get('role') or ''}".split()


def _main_node(tree: LexborHTMLParser) -> LexborNode | None:
    main = tree.css_first("main")
    if main is not None:
        return main
    articles = tree.css("article")
    if len(articles) == 1:
        return articles[0]
    return tree.body


def _hidden(node: LexborNode) -> bool:
    attributes = node.attributes
    return "hidden" in attributes or attributes.get("aria-hidden") == "true"


def _holds_code(pre: LexborNode) -> bool:
    """Whether a ``<pre>`` is code: only then may the user's code setting skip it (a whole
    plain-text document in one ``<pre>`` must not fall silent)."""
    if pre.css_first("code, samp, kbd") is not None:
        return True
    nodes = [node for node in (pre, pre.parent) if node is not None]
    return any(
        _CODE_HINT.search(value or "") for node in nodes for value in node.attributes.values()
    )


class _Walker:
    """Walks the tree depth first and cuts the text into blocks at block-level elements."""

    def __init__(self, *, chapters: bool, page: bool) -> None:
        self.blocks: list[Block] = []
        self._chapters = chapters
        self._page = page
        self._sections = 0  # depth inside <article>, <main> and <section>
        self._inline: list[str] = []  # text of the paragraph being built
        self._lines: list[str] = []  # finished lines of the list or table being built
        self._cells: list[str] | None = None  # cells of the table row being built
        self._groups = 0  # depth of nested lists and tables
        self._pre: list[bool] = []  # per enclosing <pre> (line breaks are real): holds code?

    def walk(self, root: LexborNode) -> None:
        stack: list[tuple[LexborNode, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self._leave(node.tag or "")
                continue
            tag = node.tag or ""
            if tag == "-text":
                self._text(node.text_content or "")
                continue
            if tag.startswith("-") or tag in _SKIPPED or _hidden(node):
                continue  # comments, doctype, skipped and hidden elements
            if tag in _PAGE_CHROME and self._page and not self._sections:
                continue
            if tag == "pre":
                self._end_paragraph()
                self._pre.append(_holds_code(node))
            self._enter(tag)
            stack.append((node, True))
            children = list(node.iter(include_text=True))
            stack.extend((child, False) for child in reversed(children))
        self._end_paragraph()

    def _text(self, text: str) -> None:
        if self._pre:
            self._inline.append(text)
        else:
            self._inline.append(_WHITESPACE.sub(" ", text))

    def _enter(self, tag: str) -> None:
        if tag == "br":
            self._inline.append("\n")
        elif tag in _HEADINGS or tag in _BLOCKS:
            self._end_paragraph()
            if tag in _SECTIONS:
                self._sections += 1
        elif tag in _LINE_GROUPS:
            self._end_paragraph()
            self._groups += 1
        elif tag in _LINES:
            self._end_paragraph()
            if tag == "tr":
                self._cells = []
        elif tag in _CELLS:
            self._end_cell()

    def _leave(self, tag: str) -> None:
        if tag in _HEADINGS:
            title = clean_inline("".join(self._inline))
            self._inline.clear()
            if title:
                chapter = self._chapters and _HEADINGS[tag] <= _CHAPTER_LEVELS and not self._groups
                self._emit(title, chapter=title if chapter else None)
        elif tag == "pre":
            self._end_paragraph()
            self._pre.pop()
        elif tag in _BLOCKS:
            self._end_paragraph()
            if tag in _SECTIONS:
                self._sections -= 1
        elif tag in _CELLS:
            self._end_cell()
        elif tag == "tr":
            self._end_cell()
            cells, self._cells = self._cells or [], None
            self._line(", ".join(cells))
        elif tag == "li":
            self._end_paragraph()
        elif tag in _LINE_GROUPS:
            self._end_paragraph()
            self._groups -= 1
            if not self._groups and self._lines:
                self.blocks.append(Block("\n".join(self._lines)))
                self._lines.clear()

    def _end_cell(self) -> None:
        if self._cells is None:
            return
        text = clean_inline("".join(self._inline))
        self._inline.clear()
        if text:
            self._cells.append(text)

    def _end_paragraph(self) -> None:
        if self._cells is not None:  # a block inside a table cell stays in that cell
            self._inline.append(" ")
            return
        text = "".join(self._inline)
        self._inline.clear()
        if self._pre and self._pre[-1]:
            self._emit(code_block(text))
        elif self._pre:
            self._emit(text)
        else:
            self._emit("\n".join(clean_inline(line) for line in text.split("\n")))

    def _emit(self, text: str, *, chapter: str | None = None) -> None:
        if not text.strip():
            return
        if self._groups:
            self._line(text)
        else:
            self.blocks.append(Block(text, chapter))

    def _line(self, text: str) -> None:
        if text.strip():
            self._lines.append(text)
