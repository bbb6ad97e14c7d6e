"""Markdown to prose blocks, with markdown-it-py (CommonMark plus tables), as a stream.

The voice should read what a reader of the rendered page reads, not the markup: emphasis
marks, link targets, image references and HTML tags go; link text stays. Headings become
their own block (``#`` and ``##`` also mark chapters), list items and table rows one line
each. Fenced and indented code blocks are handed on as fenced blocks, so that the user's
``[text] code`` setting skips, announces or reads them just as it does in plain text; inline
code stays, because it is part of a sentence. Raw HTML blocks go through the HTML reader so
that their text is kept and their tags are not.

Streaming: a 10 MB file parsed whole costs seconds before the first word and hundreds of MB
(markdown-it builds a token list many times the text's size). So the text is cut into groups
of whole blocks, each parsed on its own when the stream reaches it. A cut falls on a blank
line that CommonMark ends every open block at: not inside a fenced block or a raw HTML block
that spans blank lines, and not before an indented line or a list item (which may continue a
list or a list item). A group that finds no such place within ``_MAX_GROUP_CHARS`` is cut at
a line end anyway; an open fence is then closed and reopened, so code stays code.

Link reference definitions (``[label]: url``) may come anywhere, even after the links that use
them. Since only a link's text is read, the labels are all that matter: a quick scan of the
file (one regex pass, about as fast as decoding it) collects every line that looks like a
definition before the first group is parsed, and each group's parse knows them. The limit: a
definition whose label spans lines or sits deeper than a quote marker or an indent is not
seen, and a link to it far before it reads as ``[text][label]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from ..document import Block, clean_inline, code_block
from .html import html_blocks

__all__ = ["markdown_blocks"]

_CHAPTER_TAGS = frozenset({"h1", "h2"})
_LINE_GROUPS = frozenset({"bullet_list_open", "ordered_list_open", "table_open"})
_LINE_GROUP_ENDS = frozenset({"bullet_list_close", "ordered_list_close", "table_close"})
_GROUP_CHARS = 32_768
"""A group is cut at the first good place after this many characters."""
_MAX_GROUP_CHARS = 1_048_576
"""…and at a line end after this many, good place or not."""
_DEFINITION = re.compile(r"^[ \t>]*\[((?:[^\[\]\\\n]|\\.){1,999})\]:", re.MULTILINE)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})([^\n]*)")
_HTML_OPEN = re.compile(r" {0,3}<(?:(script|pre|style|textarea)(?=[\s>]|$)|!--)", re.IGNORECASE)
"""Raw HTML blocks that run on across blank lines, up to their closing tag."""
_LIST_ITEM = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")


def markdown_blocks(pieces: Iterable[str], rereading: Iterable[str] = ()) -> Iterator[Block]:
    """Yield the readable text of the Markdown ``pieces`` as blocks, parsing as it goes.

    ``rereading`` is the same text once more, from the start: it is scanned for link
    definitions when the first block is asked for, so that a reference link resolves even
    before its definition.
    """
    parser = MarkdownIt("commonmark").enable("table")
    env: dict[str, Any] = {}
    for number, group in enumerate(_groups(_lines(pieces))):
        if number == 0:
            labels = _reference_labels(rereading)
            env["references"] = {label: {"href": "", "title": ""} for label in labels}
        yield from _blocks(parser.parse(group, env))


def _reference_labels(pieces: Iterable[str]) -> set[str]:
    """The normalised labels of every line of the text that looks like a link definition."""
    labels: set[str] = set()
    rest = ""  # an unfinished last line waits for the next piece
    for piece in pieces:
        text = rest + piece
        end = text.rfind("\n") + 1
        labels.update(normalizeReference(label) for label in _DEFINITION.findall(text, 0, end))
        rest = text[end:]
    labels.update(normalizeReference(label) for label in _DEFINITION.findall(rest))
    return labels


def _lines(pieces: Iterable[str]) -> Iterator[str]:
    """The text's lines, each with its ``\\n`` (the last may lack it)."""
    parts: list[str] = []
    for piece in pieces:
        start = 0
        while (end := piece.find("\n", start)) >= 0:
            parts.append(piece[start : end + 1])
            yield "".join(parts)
            parts.clear()
            start = end + 1
        if start < len(piece):
            parts.append(piece[start:])
    if parts:
        yield "".join(parts)


def _groups(lines: Iterable[str]) -> Iterator[str]:
    """The text cut into runs of whole blocks (see the module docstring for where)."""
    group: list[str] = []
    size = 0
    fence: tuple[str, str] | None = None  # the open fence: its marker and its opening line
    html_end: str | None = None  # what closes the open raw HTML block
    after_blank = False
    for line in lines:
        if size >= _GROUP_CHARS and after_blank and _starts_block(line, fence, html_end):
            yield "".join(group)
            group, size = [], 0
        if size >= _MAX_GROUP_CHARS:
            if fence is not None:
                group.append(fence[0] + "\n")
            yield "".join(group)
            group, size = ([fence[1]], len(fence[1])) if fence is not None else ([], 0)
        group.append(line)
        size += len(line)
        after_blank = not line.strip()
        if html_end is not None:
            html_end = None if html_end in line.lower() else html_end
        elif (found := _FENCE.match(line)) is not None:
            marker, info = found.groups()
            if fence is None and not (marker[0] == "`" and "`" in info):
                fence = (marker, line)
            elif fence is not None and marker.startswith(fence[0]) and not info.strip():
                fence = None
        elif fence is None and (tag := _HTML_OPEN.match(line)) is not None:
            end = f"</{tag.group(1).lower()}>" if tag.group(1) else "-->"
            html_end = None if end in line[tag.end() :].lower() else end
    if group:
        yield "".join(group)


def _starts_block(line: str, fence: object, html_end: str | None) -> bool:
    """Whether ``line``, after a blank line, starts a block that nothing before continues."""
    if fence is not None or html_end is not None:
        return False
    return line[:1] not in (" ", "\t") and _LIST_ITEM.match(line) is None


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
        elif kind in ("fence", "code_block"):
            code = code_block(token.content)
            if code and groups:
                lines.append(code)
            elif code:
                yield Block(code)
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
        # hr and the open/close pairs of paragraphs and items carry no text


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
