"""Markdown to prose blocks, with markdown-it-py (CommonMark plus tables).

The voice should read what a reader of the rendered page reads, not the markup: emphasis
marks, link targets, image references and HTML tags go; link text stays. Headings become
their own block (``#`` and ``##`` also mark chapters), list items and table rows one line
each. Fenced and indented code blocks are skipped: source code read aloud symbol by symbol
helps no listener; inline code stays, because it is part of a sentence. Raw HTML blocks go
through the HTML reader so that their text is kept and their tags are not.

Memory: the file is parsed whole (markdown-it builds a token list a few times its size);
notes and READMEs are small. Reference-style links need the whole file anyway.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..document import Block, clean_inline
from .html import html_blocks

__all__ = ["markdown_blocks"]

_CHAPTER_TAGS = frozenset({"h1", "h2"})
_LINE_GROUPS = frozenset({"bullet_list_open", "ordered_list_open", "table_open"})
_LINE_GROUP_ENDS = frozenset({"bullet_list_close", "ordered_list_close", "table_close"})


def markdown_blocks(text: str) -> Iterator[Block]:
    """Yield the readable text of the Markdown ``text`` as blocks."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    return _blocks(tokens)


def _blocks(tokens: Sequence[Token]) -> Iterator[Block]:
    lines: list[str] = []  # lines of the list or table being read
    cells: list[str] = []  # cells of the table row being read
    groups = 0
    heading: str | None = None  # tag of the heading being read
    in_cell = False
    for token in tokens:
        kind = token.type
        if kind in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = kind.endswith("_open")
        elif kind in _LINE_GROUPS:
            groups += 1
        elif kind in _LINE_GROUP_ENDS:
            groups -= 1
            if not groups and lines:
                yield Block("\n".join(lines))
                lines.clear()
        elif kind == "heading_open":
            heading = token.tag
        elif kind == "heading_close":
            heading = None
        elif kind == "tr_close":
            if cells:
                lines.append(", ".join(cells))
            cells.clear()
        elif kind == "html_block":
            for block in html_blocks(token.content, chapters=False):
                if groups:
                    lines.append(block.text)
                else:
                    yield block
        elif kind == "inline":
            content = _inline_text(token.children or [])
            if not content.strip():
                continue
            if in_cell:
                cells.append(clean_inline(content))
            elif heading is not None:
                title = clean_inline(content)
                chapter = title if heading in _CHAPTER_TAGS and not groups else None
                block = Block(title, chapter)
                if groups:
                    lines.append(block.text)
                else:
                    yield block
            elif groups:
                lines.append(content)
            else:
                yield Block(content)
        # fence, code_block, hr and the open/close pairs of paragraphs and items carry no text


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        # link_open/close (the text between stays), image, html_inline, emphasis marks: nothing
    return "".join(parts)
