"""Where each character of rewritten text came from in the text it was rewritten from.

Speakable text and the pronunciation dictionary both rewrite what a voice reads ("$5" becomes
"five dollars"), but the reading window highlights, and a dropped stream resumes, in the
*source*. So every rewrite produces an :class:`OffsetMap` from its output back to its input,
and maps compose (dictionary, then speakable) into one map from the spoken text to the source.

The map is a list of pieces in output order. A *copied* piece was taken over character for
character, so every index inside it maps exactly; a *replaced* piece ("five dollars" for
"$5") maps every index inside it to the start of what it replaced: a word cut in the middle
of an expansion is said again whole, never half. Source offsets never decrease as the output
index grows, which is what makes resume points and highlights safe to compare.
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["OffsetMap", "OffsetMapBuilder"]


class OffsetMap:
    """Maps an index of the output text to an index of the input text."""

    __slots__ = ("_copied", "_inner", "_out_len", "_out_starts", "_src_len", "_src_starts")

    def __init__(
        self,
        out_starts: list[int],
        src_starts: list[int],
        copied: list[bool],
        *,
        out_len: int,
        src_len: int,
        inner: OffsetMap | None = None,
    ) -> None:
        self._out_starts = out_starts
        self._src_starts = src_starts
        self._copied = copied
        self._out_len = out_len
        self._src_len = src_len
        self._inner = inner

    @classmethod
    def identity(cls, length: int) -> OffsetMap:
        """The map of a text that was not rewritten."""
        return cls([0], [0], [True], out_len=length, src_len=length)

    @property
    def source_length(self) -> int:
        """Length of the original input (through every composed map)."""
        return self._inner.source_length if self._inner is not None else self._src_len

    def source_offset(self, index: int) -> int:
        """The input index the output ``index`` came from; the end maps to the end."""
        own = self._own_offset(index)
        return own if self._inner is None else self._inner.source_offset(own)

    def then(self, inner: OffsetMap) -> OffsetMap:
        """This map followed by ``inner`` (which maps this map's input further back)."""
        innermost = inner if self._inner is None else self._inner.then(inner)
        return OffsetMap(
            self._out_starts,
            self._src_starts,
            self._copied,
            out_len=self._out_len,
            src_len=self._src_len,
            inner=innermost,
        )

    def _own_offset(self, index: int) -> int:
        if index >= self._out_len:
            return self._src_len
        piece = bisect_right(self._out_starts, index) - 1
        if piece < 0:
            return 0
        start = self._src_starts[piece]
        if self._copied[piece]:
            return min(self._src_len, start + index - self._out_starts[piece])
        return start


class OffsetMapBuilder:
    """Builds output text piece by piece, with its map, collapsing whitespace on the way.

    Runs of whitespace become one space, none at either end, so that what ``voxtray clean``
    prints is exactly what a voice is given (``collapse=False`` keeps the layout: the
    pronunciation dictionary leaves it to the speakable pass, which needs line starts). A
    replacement that lands against a word gets a space on each side ("hi😀there" reads "hi
    grinning face there"), but not before the punctuation that follows it.
    """

    def __init__(self, source_length: int, *, collapse: bool = True) -> None:
        self._collapse = collapse
        self._parts: list[str] = []
        self._out_starts: list[int] = []
        self._src_starts: list[int] = []
        self._copied: list[bool] = []
        self._length = 0
        self._last = " "  # as if a space came before: no leading space is ever written
        self._space_pending = False  # a space waits to be written before the next word
        self._space_source = 0
        self._space_soft = False  # the pending space only separates words, never punctuation
        self._separated = False  # the last piece was a replacement: a word after it needs a space
        self._source_length = source_length

    def copy(self, text: str, source_start: int) -> None:
        """Take ``text`` (which is ``source[source_start:...]``) over unchanged."""
        if not self._collapse:
            if text:
                self._piece(text, source_start, True)
            return
        at = 0
        end = len(text)
        while at < end:
            if text[at].isspace():
                run_end = at + 1
                while run_end < end and text[run_end].isspace():
                    run_end += 1
                self._space(source_start + at)
                at = run_end
            else:
                run_end = at + 1
                while run_end < end and not text[run_end].isspace():
                    run_end += 1
                self._write(text[at:run_end], source_start + at, copied=True)
                at = run_end

    def replace(self, text: str, source_start: int, *, word: bool = True) -> None:
        """Write ``text`` in place of source text starting at ``source_start``.

        ``word=False`` writes it exactly where it is (tamed punctuation: "wow!!!" → "wow!").
        """
        if not self._collapse:
            if text:
                self._piece(text, source_start, False)
            return
        words = text.split()
        if not words:
            self.drop(source_start)
            return
        if not word:
            self._write(" ".join(words), source_start, copied=False)
            return
        if self._last.isalnum() or self._last in ")]}”’\"'":
            self._space(source_start)
        self._write(" ".join(words), source_start, copied=False, separate=True)

    def drop(self, source_start: int) -> None:
        """Say nothing for source text starting at ``source_start``.

        Words on either side of it stay apart ("a**b" reads "a b"), but no space appears
        before punctuation.
        """
        self._space(source_start, soft=True)

    def build(self) -> tuple[str, OffsetMap]:
        text = "".join(self._parts)
        offsets = OffsetMap(
            self._out_starts or [0],
            self._src_starts or [0],
            self._copied or [False],
            out_len=len(text),
            src_len=self._source_length,
        )
        return text, offsets

    def _space(self, source_at: int, *, soft: bool = False) -> None:
        if self._last != " " and not self._space_pending:
            self._space_pending = True
            self._space_soft = soft
            self._space_source = source_at
        elif self._space_pending and not soft:
            self._space_soft = False

    def _write(self, text: str, source_start: int, *, copied: bool, separate: bool = False) -> None:
        first = text[0]
        if self._space_pending and self._space_soft and not first.isalnum():
            self._space_pending = False
        wants_space = self._space_pending or (
            separate is False and self._separated and (first.isalnum() or first in "([{“‘\"'")
        )
        if wants_space and self._last != " ":
            self._piece(" ", self._space_source if self._space_pending else source_start, False)
        self._space_pending = False
        self._separated = separate
        self._piece(text, source_start, copied)

    def _piece(self, text: str, source_start: int, copied: bool) -> None:
        self._parts.append(text)
        self._out_starts.append(self._length)
        self._src_starts.append(source_start)
        self._copied.append(copied)
        self._length += len(text)
        self._last = text[-1]
