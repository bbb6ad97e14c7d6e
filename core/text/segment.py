"""Streaming segmentation: text pieces in, ordered segments out, with bounded memory.

Speech starts as soon as the first segment is synthesized, so the first segment is the first
clause rather than the first sentence. After it come whole sentences, because a voice sounds
most natural when it sees a whole sentence, and sentences too long for one call are split at
clause, then word, then (for text with no spaces at all) hard boundaries.

The text arrives as pieces (reads of a file, or one string) and never has to fit in memory:
the segmenter keeps a window of a few KiB, runs pysbd on it, emits every sentence it is sure
of and keeps the rest. pysbd's cost grows faster than linearly with its input, so the window
is small and every character is analysed a bounded number of times.

A segment's ``start`` and ``end`` are offsets into the concatenation of all pieces, and
``text`` is exactly that slice without surrounding whitespace. pysbd's own offsets are not
trusted (its ``char_span`` is known to drift); its sentences are located again in the source.

A segment never ends inside a link (a URL, a bare host name, an e-mail address: what
:data:`.speakable.LINK` finds), because pysbd ends a sentence at every "?" and "!", even in
"example.com/a?q=1", and the voice would then pause mid-link and read the query as a sentence
of its own. Only a link longer than ``max_chars`` is cut, hard, like any other such run.

A segment's kind says what follows its end: the first clause (``CLAUSE``), a sentence end
(``SENTENCE``: the end of a sentence, a paragraph, a heading, a list item or the text), or the
middle of a sentence cut because it was too long (``PART``).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import pysbd

from ..model import Segment, SegmentKind
from .speakable import LINK

__all__ = ["HARD_BREAK", "Segmenter", "segment_text"]

_ANALYSIS_WINDOW = 2048
"""Characters handed to pysbd at once: pysbd is fastest per character on windows this small."""
_MIN_CLAUSE = 15
"""A first clause shorter than this is too short to be worth its own call."""
_MIN_SHORT_CLAUSE = 8
"""A short clause ("Hello there,") still beats cutting the next one between two words."""
_FIRST_LOOKAHEAD = 16
"""Text the first-clause decision waits for past ``first_clause_chars``."""
_GUARD = 24
"""A sentence end closer than this to where the known text stops may be an artefact of the
cut (pysbd cannot know that "U.S." goes on), so it waits for more text."""
_MIN_STEP = 128
"""Fewest new characters worth another analysis while text trickles in."""

_NON_WS = re.compile(r"\S")
_WS = re.compile(r"\s")
_LAST_WS = re.compile(r".*\s", re.DOTALL)
_SENTENCE_MARK = re.compile(r"[.!?。！？…‼⁇⁈⁉]")
# A blank line or a paragraph separator always ends a sentence; so does a line break before a
# list bullet. A single line break is only a hard wrap inside a sentence.
_HARD_BREAK = re.compile(
    r"\n[^\S\n]*\n|\u2029|\n(?=[^\S\n]*(?:[-*+•‣◦▪–]|\d{1,3}[.)])[^\S\n])",
)
# Places where a long sentence can be cut; the cut goes after the match. Commas and colons need
# whitespace after them so that "3,000" and "10:30" stay whole; CJK marks need none.
HARD_BREAK = _HARD_BREAK
"""Where a paragraph (or a heading, a list item) ends: what skipping by paragraph counts."""
_CLAUSE = re.compile(
    r"""[,;:]["'”’»)\]]*(?=\s)"""
    r"|[—―][\"'”’»)\]]*"
    r"|\s[–-](?=\s)"
    r"|[，、；：。！？]",
)
_FLATTEN = str.maketrans(dict.fromkeys("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))
"""pysbd ends a sentence at every line break; it sees spaces there instead, and the mapping
back to offsets is unaffected because the replacement keeps every length."""
_CLINGING = frozenset("\u200d\ufe0e\ufe0f") | {chr(c) for c in range(0x1F3FB, 0x1F400)}
_PYSBD_LANGUAGES = frozenset(
    {"am", "ar", "bg", "da", "de", "el", "en", "es", "fa", "fr", "hi", "hy"}
    | {"it", "ja", "kk", "mr", "my", "nl", "pl", "ru", "sk", "ur", "zh"},
)

DEFAULT_FIRST_CLAUSE_CHARS = 40
"""Where the first segment is cut when no clause ends sooner. Synthesis time grows with length,
so this sets how soon speech starts: about 40 characters is half the wait of a whole sentence
(measured in docs/PERFORMANCE.md) and still a natural phrase."""


def segment_text(
    pieces: Iterable[str],
    *,
    max_chars: int,
    first_clause_chars: int = DEFAULT_FIRST_CLAUSE_CHARS,
    long_sentence_chars: int | None = None,
    language: str = "en",
) -> Iterator[Segment]:
    """Segment a stream of text pieces; see :class:`Segmenter` for the parameters."""
    segmenter = Segmenter(
        max_chars=max_chars,
        first_clause_chars=first_clause_chars,
        long_sentence_chars=long_sentence_chars,
        language=language,
    )
    for piece in pieces:
        yield from segmenter.feed(piece)
    yield from segmenter.close()


class Segmenter:
    """The incremental state behind :func:`segment_text`.

    ``max_chars`` is the provider's limit; no segment is longer. ``long_sentence_chars``
    (default ``min(max_chars, 300)``) is where a sentence becomes long enough to split even
    though the provider would take it. ``language`` chooses pysbd's rules; a language pysbd
    has no rules for is segmented with the English ones.

    :meth:`feed` and :meth:`close` are generators that do their work as they are iterated:
    iterate each one to the end before calling the next.
    """

    def __init__(
        self,
        *,
        max_chars: int,
        first_clause_chars: int = DEFAULT_FIRST_CLAUSE_CHARS,
        long_sentence_chars: int | None = None,
        language: str = "en",
    ) -> None:
        if max_chars < 1 or first_clause_chars < 1:
            raise ValueError("max_chars and first_clause_chars must be at least 1")
        if long_sentence_chars is not None and long_sentence_chars < 1:
            raise ValueError("long_sentence_chars must be at least 1")
        self._max = max_chars
        self._first = min(first_clause_chars, max_chars)
        self._long = min(long_sentence_chars or min(max_chars, 300), max_chars)
        self._window = max(_ANALYSIS_WINDOW, 2 * self._long + 4 * _GUARD)
        # Past this much pending text a cut is always possible, so analysis never stalls.
        self._horizon = max(self._window, 2 * max_chars + _GUARD)
        code = language.replace("_", "-").split("-")[0].lower()
        self._sbd = pysbd.Segmenter(
            language=code if code in _PYSBD_LANGUAGES else "en",
            clean=False,
        )
        self._buf = ""
        self._base = 0  # offset of _buf[0] in the whole text
        self._cur = 0  # index in _buf of the first character not yet segmented
        self._first_pending = True
        self._drain_at = _MIN_STEP
        self._closed = False
        self._ready: list[Segment] = []
        self._index = 0

    @property
    def buffered_chars(self) -> int:
        """Characters held right now; stays within a few windows whatever the input size."""
        return len(self._buf)

    def feed(self, piece: str) -> Iterator[Segment]:
        """Add the next piece of text and yield the segments it completes."""
        if self._closed:
            raise ValueError("feed() after close()")
        # A huge piece is taken a window at a time so the buffer stays bounded.
        for at in range(0, len(piece), self._window):
            self._buf += piece[at : at + self._window]
            self._step(final=False)
            yield from self._take_ready()

    def close(self) -> Iterator[Segment]:
        """Mark the end of the text and yield the segments still held."""
        if self._closed:
            return
        self._closed = True
        self._step(final=True)
        yield from self._take_ready()

    # -- driving -------------------------------------------------------------------------

    def _take_ready(self) -> Iterator[Segment]:
        ready, self._ready = self._ready, []
        yield from ready

    def _step(self, *, final: bool) -> None:
        if self._first_pending and not self._try_first_clause(final=final):
            self._compact()
            return
        pending = len(self._buf) - self._cur
        if final or pending >= self._drain_at:
            self._drain(final=final)
            # Wait for the pending text to double before analysing again: total work stays
            # linear in the input even when it arrives a character at a time.
            remaining = len(self._buf) - self._cur
            self._drain_at = min(self._horizon, max(2 * remaining, remaining + _MIN_STEP))
        self._compact()

    def _compact(self) -> None:
        self._cur = self._skip_ws(self._cur)
        if self._cur:
            self._buf = self._buf[self._cur :]
            self._base += self._cur
            self._cur = 0

    # -- the first clause ----------------------------------------------------------------

    def _try_first_clause(self, *, final: bool) -> bool:
        """Cut the first segment as soon as the text decides it; False: wait for more."""
        start = self._cur = self._skip_ws(self._cur)
        if start == len(self._buf):
            return False
        limit = start + self._first
        look_end = min(len(self._buf), limit + _FIRST_LOOKAHEAD)
        brk = _HARD_BREAK.search(self._buf, start, look_end)
        region_end = brk.start() if brk else look_end
        complete = brk is not None or (final and look_end == len(self._buf))
        sentence_end = self._first_sentence_end(start, region_end, complete=complete)
        if sentence_end is None and not complete and look_end < limit + _FIRST_LOOKAHEAD:
            return False
        if sentence_end is not None and self._rstrip(start, sentence_end) - start <= self._first:
            end, kind = sentence_end, SegmentKind.SENTENCE
        elif complete and self._rstrip(start, region_end) - start <= self._first:
            end, kind = region_end, SegmentKind.SENTENCE
        else:
            end, kind = self._first_cut(start, limit, region_end), SegmentKind.CLAUSE
            if self._link_test(start, region_end)(end):
                # The text opens with a link longer than a first clause: it goes out whole.
                link_end = _WS.search(self._buf, end, start + self._max)
                if link_end is None and not final and len(self._buf) < start + self._max:
                    return False
                hard = min(len(self._buf), start + self._max)
                end = link_end.start() if link_end else self._safe_cut(start, hard)
                if final and not self._buf[end:].strip():
                    kind = SegmentKind.PARAGRAPH
        if kind is SegmentKind.SENTENCE and complete and not self._buf[end:region_end].strip():
            kind = SegmentKind.PARAGRAPH
        self._emit(start, end, kind)
        self._cur = end
        self._first_pending = False
        return True

    def _first_sentence_end(self, start: int, end: int, *, complete: bool) -> int | None:
        """Where the first sentence ends, if the text seen so far settles it."""
        ends, mapped = self._sentence_ends(start, end)
        if not ends:
            return end if complete else None
        if complete:
            return ends[0]
        settled = (len(ends) > 1 or not mapped) and end - ends[0] >= _FIRST_LOOKAHEAD // 2
        return ends[0] if settled else None

    def _first_cut(self, start: int, limit: int, end: int) -> int:
        """The end of a first clause taken out of a sentence longer than ``first_clause_chars``."""
        clause_ends = [
            m.end()
            for m in _CLAUSE.finditer(self._buf, start + 1, min(end, limit + 1))
            if m.end() <= limit
        ]
        for minimum in (_MIN_CLAUSE, _MIN_SHORT_CLAUSE):
            for clause_end in clause_ends:
                if clause_end >= start + minimum:
                    return clause_end
        last_ws = _LAST_WS.match(self._buf, start + 1, min(end, limit + 1))
        if last_ws:
            return last_ws.end() - 1
        next_ws = _WS.search(self._buf, limit, min(end, start + self._max))
        if next_ws:
            return next_ws.start()
        return self._safe_cut(start, min(end, limit))

    # -- sentences -----------------------------------------------------------------------

    def _drain(self, *, final: bool) -> None:
        """Emit every segment the buffered text settles."""
        while True:
            cur = self._cur = self._skip_ws(self._cur)
            end = len(self._buf)
            if cur == end:
                return
            window_end = min(end, cur + self._window)
            brk = _HARD_BREAK.search(self._buf, cur, window_end)
            if brk or (final and end == window_end):
                block_end = brk.start() if brk else end
                self._emit_block(cur, block_end)
                self._cur = brk.end() if brk else end
                continue
            if self._emit_settled(cur, window_end):
                if window_end == end:
                    return  # everything available was analysed: wait for more
                continue
            # No sentence ends in the window. Cut parts off it only once the text is long
            # enough for a cut to exist (or complete); otherwise wait for more.
            if not (final or end - cur >= self._horizon):
                return
            if not self._force_parts(cur, window_end, end, final=final):
                return

    def _emit_block(self, start: int, end: int) -> None:
        """Segment a stretch known to end a sentence (a paragraph, or the end of the text)."""
        ends, _ = self._sentence_ends(start, end)
        for sentence_end in ends:
            self._emit_sentence(start, sentence_end)
            start = sentence_end
        self._emit_sentence(start, end, SegmentKind.PARAGRAPH)
        if self._ready and self._ready[-1].kind is SegmentKind.SENTENCE:
            # The block's last sentence was found by pysbd (nothing follows it): same paragraph end.
            last = self._ready[-1]
            if self._base + self._rstrip(start, end) <= last.end:
                self._ready[-1] = replace(last, kind=SegmentKind.PARAGRAPH)

    def _emit_settled(self, start: int, end: int) -> bool:
        """Emit the sentences of an open stretch that more text cannot change."""
        ends, mapped = self._sentence_ends(start, end)
        if mapped:
            ends = ends[:-1]  # the last sentence may go on
        settled = [e for e in ends if e <= end - _GUARD]
        for sentence_end in settled:
            self._emit_sentence(start, sentence_end)
            start = sentence_end
        self._cur = start
        return bool(settled)

    def _force_parts(self, start: int, window_end: int, end: int, *, final: bool) -> bool:
        """Cut parts off a sentence longer than the analysis window, which has no end in it."""
        progressed = False
        while window_end - _GUARD - start > self._long:
            cut = self._find_cut(start, end)
            if cut >= end:
                if final:
                    self._emit_sentence(start, end)
                    start, progressed = end, True
                break
            self._emit(start, cut, SegmentKind.PART)
            start, progressed = self._skip_ws(cut), True
        self._cur = start
        return progressed

    def _sentence_ends(self, start: int, end: int) -> tuple[list[int], bool]:
        """Where pysbd ends sentences in ``_buf[start:end]``, as ``_buf`` indexes.

        The flag is False when pysbd's output stopped matching the source: the ends found
        before that point are still right, and the rest of the stretch counts as one sentence.
        """
        ends: list[int] = []
        if not _SENTENCE_MARK.search(self._buf, start, end):
            return ends, True  # one sentence at most: no need to ask pysbd
        text = self._buf[start:end].translate(_FLATTEN)
        pos = 0
        # The processor is pysbd's segmentation proper. Segmenter.segment adds a char-span
        # pass that is quadratic in the number of sentences, and this module maps anyway.
        sentences: list[str] = self._sbd.processor(text).process()
        for sentence in sentences:
            piece = sentence.strip()
            if not piece:
                continue
            found = _NON_WS.search(text, pos)
            at = found.start() if found else len(text)
            if not text.startswith(piece, at):
                return ends, False
            pos = at + len(piece)
            ends.append(start + pos)
        return self._outside_links(ends, start, end), True

    def _outside_links(self, ends: list[int], start: int, end: int) -> list[int]:
        """``ends`` without those inside a link.

        pysbd ends a sentence at every "?" and "!", even in "example.com/a?q=1"; a segment
        boundary there is a pause mid-link and "q equals one" read as a sentence of its own.
        Only an end glued to the next character can be in a link, so prose pays nothing.
        """
        if all(e >= end or self._buf[e].isspace() for e in ends):
            return ends
        inside = self._link_test(start, end)
        return [e for e in ends if not inside(e)]

    def _link_test(self, start: int, end: int) -> Callable[[int], bool]:
        """Whether a position in ``_buf[start:end]`` is strictly inside a link.

        The stretch is searched as a string of its own, as the speakable pass will see the
        segment, and so that what precedes it (which may or may not be buffered still) does
        not matter.
        """
        found = LINK.finditer(self._buf[start:end])
        links = [(start + link.start(), start + link.end()) for link in found]
        starts = [first for first, _ in links]

        def inside(pos: int) -> bool:
            before = bisect_left(starts, pos) - 1
            return before >= 0 and links[before][1] > pos

        return inside

    def _emit_sentence(
        self, start: int, end: int, kind: SegmentKind = SegmentKind.SENTENCE
    ) -> None:
        start = self._skip_ws(start, end)
        end = self._rstrip(start, end)
        while end - start > self._long:
            cut = self._find_cut(start, end)
            if cut >= end:
                break
            self._emit(start, cut, SegmentKind.PART)
            start = self._skip_ws(cut, end)
        self._emit(start, end, kind)

    def _find_cut(self, start: int, end: int) -> int:
        """Where the next part of the over-long text ``_buf[start:end]`` ends.

        Prefers the last clause boundary within ``long_sentence_chars``, then a space that
        makes parts of even length (no one-word tail), then the first space within
        ``max_chars``; a run without any is cut hard there.
        """
        soft = min(end, start + self._long)
        best = None
        for match in _CLAUSE.finditer(self._buf, start + 1, min(end, soft + 1)):
            if match.end() <= soft:
                best = match.end()
        if best is not None:
            return best
        parts = -(-(end - start) // self._long)
        even = start + -(-(end - start) // parts)
        last_ws = _LAST_WS.match(self._buf, start + 1, min(end, even + 1))
        if last_ws is None:
            last_ws = _LAST_WS.match(self._buf, start + 1, min(end, soft + 1))
        if last_ws:
            return last_ws.end() - 1
        hard = min(end, start + self._max)
        next_ws = _WS.search(self._buf, soft, hard)
        if next_ws:
            return next_ws.start()
        return self._safe_cut(start, hard)

    # -- characters ----------------------------------------------------------------------

    def _emit(self, start: int, end: int, kind: SegmentKind) -> None:
        start = self._skip_ws(start, end)
        end = self._rstrip(start, end)
        if start < end:
            text = self._buf[start:end]
            self._ready.append(
                Segment(self._index, text, self._base + start, self._base + end, kind),
            )
            self._index += 1

    def _skip_ws(self, pos: int, end: int | None = None) -> int:
        limit = len(self._buf) if end is None else end
        found = _NON_WS.search(self._buf, pos, limit)
        return found.start() if found else limit

    def _rstrip(self, start: int, end: int) -> int:
        while end > start and self._buf[end - 1].isspace():
            end -= 1
        return end

    def _safe_cut(self, start: int, pos: int) -> int:
        """Move a hard cut back so it does not split a character from its combining marks."""
        if pos >= len(self._buf):
            return pos
        cut = pos
        while cut > start + 1 and _clings(self._buf[cut - 1], self._buf[cut]):
            cut -= 1
        return pos if _clings(self._buf[cut - 1], self._buf[cut]) else cut


def _clings(before: str, char: str) -> bool:
    """Whether ``char`` belongs to the same visible character as ``before``."""
    return (
        before == "\u200d" or char in _CLINGING or unicodedata.category(char) in ("Mn", "Mc", "Me")
    )
