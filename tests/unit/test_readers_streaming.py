"""Markdown and EPUB stream: the first words come before the whole file is parsed, memory stays
bounded, and the text is exactly what parsing the whole file at once would give."""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from voxtray.core.text.formats import markdown
from voxtray.core.text.readers import open_document

from tests.harness.documents import build_book

# Every construct that a cut at a blank line could break: fences and raw HTML with blank lines
# inside (and lines at column 0), indented code and list items continued after a blank line,
# loose lists, tables, and reference links defined before and after their use.
TRICKY = """\
# Part {n}

A paragraph with a [reference link][early] and a [later one][late {n}], and `code`.
A soft-wrapped second line.

```
code line one

code at column 0 after a blank line
```

~~~~
```
still code
~~~~

    indented code

    more indented code after a blank line

- a loose list

- with a second item

  continued after a blank line

1. numbered
2. items

<pre>
raw HTML pre

with a blank line
</pre>

<!-- a comment

spanning a blank line -->

| Name | Value |
|------|-------|
| n    | {n}   |

> a quote
> on two lines

[early]: https://example.org/early
"""


def tricky_document(parts: int) -> str:
    body = "".join(TRICKY.format(n=n) for n in range(parts))
    return body + "".join(f"[late {n}]: https://example.org/{n}\n" for n in range(parts))


def read(path: Path) -> str:
    return "".join(open_document(path))


def test_markdown_in_groups_reads_exactly_as_parsed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tricky.md"
    path.write_text(tricky_document(40), encoding="utf-8")
    monkeypatch.setattr(markdown, "_GROUP_CHARS", 10**9)
    monkeypatch.setattr(markdown, "_MAX_GROUP_CHARS", 10**9)
    whole = read(path)
    monkeypatch.setattr(markdown, "_GROUP_CHARS", 1)  # a cut at every good place
    parses: list[int] = []
    original = MarkdownIt.parse

    def counting(self: MarkdownIt, src: str, env: Any = None) -> Any:
        parses.append(len(src))
        return original(self, src, env)

    monkeypatch.setattr(MarkdownIt, "parse", counting)
    assert read(path) == whole
    assert len(parses) > 40 * 8  # it really was cut, many times per part
    assert "[later one]" not in whole and "later one" in whole  # defined at the very end
    assert "```\nstill code\n```" in whole  # the ``` line inside the ~~~~ fence is dropped


def test_a_group_too_long_to_cut_well_keeps_its_code_fenced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fence longer than the largest group is closed at the cut and opened again after it."""
    monkeypatch.setattr(markdown, "_MAX_GROUP_CHARS", 500)
    lines = "".join(f"code_line_{n} = {n}\n\n" for n in range(200))
    path = tmp_path / "long.md"
    path.write_text(f"Before.\n\n```\n{lines}```\n\nAfter.\n", encoding="utf-8")
    blocks = read(path).split("\n\n")
    assert blocks[0] == "Before." and blocks[-1] == "After."
    assert len(blocks) > 4  # cut several times
    for block in blocks[1:-1]:
        assert block.startswith("```\n") and block.endswith("\n```"), block
    code = [line for block in blocks[1:-1] for line in block.split("\n") if line != "```"]
    assert code == [f"code_line_{n} = {n}" for n in range(200)]


def test_markdown_first_piece_comes_before_the_file_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.md"
    path.write_text(tricky_document(2000), encoding="utf-8")  # about 1.3 MB
    parsed: list[int] = []
    original = MarkdownIt.parse

    def counting(self: MarkdownIt, src: str, env: Any = None) -> Any:
        parsed.append(len(src))
        return original(self, src, env)

    monkeypatch.setattr(MarkdownIt, "parse", counting)
    with open_document(path) as stream:
        assert next(stream) == "Part 0"
        assert sum(parsed) < 100_000


def test_markdown_memory_stays_bounded(tmp_path: Path) -> None:
    """Parsed whole, 500 KB of Markdown peaked at about 27 MB; in groups, at about 1.5 MB."""
    paragraph = "Some *emphasis* and a [link][ref] in a sentence that goes on a while. " * 5
    text = "".join(f"## Heading {n}\n\n{paragraph}\n\n- a\n- b\n\n" for n in range(1250))
    path = tmp_path / "long.md"
    path.write_text(text + "[ref]: https://example.org\n", encoding="utf-8")
    tracemalloc.start()
    try:
        characters = sum(len(piece) for piece in open_document(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert characters > 400_000
    assert peak < 8_000_000, f"peak {peak} bytes while reading {len(text)} characters"


# -- EPUB ------------------------------------------------------------------------------------


def test_epub_chapters_are_read_when_the_stream_reaches_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chapters = [f"<h1>Heading {n}</h1><p>Text of part {n}.</p>" for n in range(1, 6)]
    path = build_book(tmp_path / "parts.epub", chapters, pictures=20, picture_bytes=100_000)
    members: list[str] = []
    original = zipfile.ZipFile.read

    def recording(self: zipfile.ZipFile, name: Any, pwd: bytes | None = None) -> bytes:
        members.append(name if isinstance(name, str) else name.filename)
        return original(self, name, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "read", recording)
    with open_document(path) as stream:
        assert next(stream) == "Heading 1"
        assert [name for name in members if name.startswith("EPUB/text/")] == ["EPUB/text/1.xhtml"]
        rest = "".join(stream)
        assert [chapter.title for chapter in stream.chapters] == [f"Part {n}" for n in range(1, 6)]
    assert rest.endswith("Text of part 5.")
    assert not [name for name in members if "images/" in name]  # pictures are never read


def test_epub_chapter_header_is_part_of_the_chapter(tmp_path: Path) -> None:
    """An EPUB chapter is no web page: its top-level <header> holds its title, not a site's."""
    body = "<header><h1>Chapter the First</h1></header><p>It begins.</p><footer>1</footer>"
    text = read(build_book(tmp_path / "one.epub", [body]))
    assert text == "Chapter the First\n\nIt begins.\n\n1"
