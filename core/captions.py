"""Captions and chapter lists for an exported narration, from the timing of its segments.

Pure functions: the export (``export.py``) collects one entry per segment, ``(start, end, text)``
in seconds of the audio file, and turns them into SubRip (``.srt``), LRC (``.lrc``) or a chapter
list in the common ``HH:MM:SS.mmm Title`` form that audiobook and podcast tools read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["CaptionEntry", "chapter_list", "chapter_times", "to_lrc", "to_srt"]

CaptionEntry = tuple[float, float, str]
"""``(start_seconds, end_seconds, text)``."""


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
