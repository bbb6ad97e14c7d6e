"""Captions and chapter lists for an exported narration, from the timing of its segments.

Pure functions: the export (``export.py``) collects entries ``(start, end, text)`` in seconds of
the audio file, one per segment (or several, see :func:`cues`), and turns them into SubRip
(``.srt``), LRC (``.lrc``) or a chapter list in the common ``HH:MM:SS.mmm Title`` form that
audiobook and podcast tools read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = [
    "CUE_CHARS",
    "Alignment",
    "CaptionEntry",
    "chapter_list",
    "chapter_times",
    "cues",
    "to_lrc",
    "to_srt",
]

CaptionEntry = tuple[float, float, str]
"""``(start_seconds, end_seconds, text)``."""
Alignment = Sequence[tuple[int, float]]
"""``(characters, seconds)`` pairs in order: by that second of the audio file, the voice had
said that many characters of a segment's text."""
CUE_CHARS = 42
"""Longest cue cut from a segment: one line, the width subtitle style guides allow."""

_WORD = re.compile(r"\S+")


def cues(
    start: float, end: float, text: str, alignment: Alignment, max_chars: int = CUE_CHARS
) -> list[CaptionEntry]:
    """A segment's caption, from ``start`` to ``end``, as cues of at most ``max_chars`` cut
    between words, each shown when the voice reaches its first word.

    A sentence of 200 characters on screen for 12 seconds is hard to follow; the voice's
    alignment says when each word is said, so shorter cues can follow it. Without alignment
    inside the text (none, or only its end, as cached audio has) the time of a word would be
    a guess: the segment stays one caption, timed by the segment.
    """
    if not any(0 < chars < len(text) for chars, _at in alignment):
        return [(start, end, text)]
    lines = _lines(text, max_chars)
    times = [start] + [
        min(end, max(start, _time_of(offset, start, alignment))) for offset, _ in lines[1:]
    ]
    for index in range(1, len(times)):  # never earlier than the cue before
        times[index] = max(times[index], times[index - 1])
    ends = [*times[1:], end]
    return [(at, until, line) for at, until, (_, line) in zip(times, ends, lines, strict=True)]


def _lines(text: str, max_chars: int) -> list[tuple[int, str]]:
    """``text`` cut greedily between words into lines of at most ``max_chars`` (a longer word
    alone on its line), each with the offset of its first word in ``text``."""
    lines: list[tuple[int, str]] = []
    for word in _WORD.finditer(text):
        if lines and len(lines[-1][1]) + 1 + len(word[0]) <= max_chars:
            lines[-1] = (lines[-1][0], f"{lines[-1][1]} {word[0]}")
        else:
            lines.append((word.start(), word[0]))
    return lines


def _time_of(offset: int, start: float, alignment: Alignment) -> float:
    """When the voice reached character ``offset``: between two alignment points, characters
    are taken as evenly spread over the audio (a point comes every few dozen milliseconds)."""
    before_chars, before_at = 0, start
    for chars, at in alignment:
        if chars >= offset:
            if chars == before_chars:
                return before_at
            return before_at + (at - before_at) * (offset - before_chars) / (chars - before_chars)
        before_chars, before_at = chars, at
    return before_at


def _clean(text: str) -> str:
    return " ".join(text.split())


def _millis(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _clock(seconds: float, separator: str) -> str:
    ms = _millis(seconds)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def to_srt(entries: Iterable[CaptionEntry]) -> str:
    """SubRip: numbered from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, entries blank-line separated.

    Whitespace in each text collapses to single spaces; entries without text are left out.
    """
    blocks: list[str] = []
    for start, end, text in entries:
        line = _clean(text)
        if not line:
            continue
        number = len(blocks) + 1
        blocks.append(f"{number}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{line}\n")
    return "\n".join(blocks)


def to_lrc(entries: Iterable[CaptionEntry]) -> str:
    """LRC lyrics: one ``[mm:ss.xx]text`` line per entry (minutes go past 59 on long books)."""
    lines: list[str] = []
    for start, _end, text in entries:
        line = _clean(text)
        if not line:
            continue
        centis = max(0, round(start * 100))
        minutes, centis = divmod(centis, 6000)
        lines.append(f"[{minutes:02d}:{centis // 100:02d}.{centis % 100:02d}]{line}")
    return "".join(f"{line}\n" for line in lines)


def chapter_list(chapters: Iterable[tuple[float, str]]) -> str:
    """One ``HH:MM:SS.mmm Title`` line per ``(start_seconds, title)``."""
    return "".join(f"{_clock(start, '.')} {_clean(title)}\n" for start, title in chapters)


def chapter_times(
    chapters: Iterable[tuple[str, int]], segments: Sequence[tuple[int, int, float]]
) -> list[tuple[float, str]]:
    """Place chapters, given as ``(title, source_offset)``, on the audio's time line.

    ``segments`` are ``(source_start, source_end, audio_start)`` in reading order. A chapter
    starts with the first segment that ends after its offset (the heading's own segment);
    chapters after the last segment (an empty trailing chapter) are left out.
    """
    placed: list[tuple[float, str]] = []
    for title, offset in chapters:
        time = next((at for _start, end, at in segments if end > offset), None)
        if time is not None:
            placed.append((time, title))
    return placed
