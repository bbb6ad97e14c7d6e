"""``voxtray export --captions srt --captions lrc --chapters``: a real process, real files."""

from __future__ import annotations

import re
import subprocess
import textwrap
from itertools import pairwise
from pathlib import Path

import pytest
import soundfile
from voxtray.core.export import ExportOptions, export_narration
from voxtray.core.model import SpeakRequest, VoiceRef
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import ElevenLabsSettings, Settings, VoiceSettings
from voxtray.core.text.readers import open_document

from tests.harness.cli import isolated_env, run_voxtray, tone_timeline

DOCUMENT = """# The Beginning

It was a bright cold day in April. The clocks were striking thirteen.

# The Ending

He loved the tone voice.
"""


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


def export(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_voxtray(env, "export", "--provider", "tone", *args)


def _srt_time(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    seconds, millis = rest.split(",")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def _lrc_time(stamp: str) -> float:
    minutes, seconds = stamp.split(":")
    return int(minutes) * 60 + float(seconds)


def test_export_writes_srt_lrc_and_chapters(home: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "doc.md"
    source.write_text(DOCUMENT, encoding="utf-8")
    out = tmp_path / "out.wav"
    result = export(
        home,
        "--file",
        str(source),
        "-o",
        str(out),
        "--captions",
        "srt",
        "--captions",
        "lrc",
        "--chapters",
    )
    assert result.returncode == 0, result.stderr

    # What the narrator reads, cut as it cuts it, and how long the tone voice speaks each piece.
    with open_document(source) as stream:
        text = "".join(stream)
        chapters = list(stream.chapters)
    timeline = tone_timeline(text)
    segments = [segment for segment, _, _ in timeline]
    starts = [start for _, start, _ in timeline]
    # A caption lasts until the next one starts: the segment's speech and the pause after it.
    durations = [*(after - start for start, after in pairwise(starts)), timeline[-1][2]]

    srt = (tmp_path / "out.srt").read_text(encoding="utf-8")
    blocks = srt.split("\n\n")
    assert len(blocks) == len(segments)
    entries = []
    for number, block in enumerate(blocks, start=1):
        index, times, caption = block.rstrip("\n").split("\n")
        assert index == str(number)
        match = re.fullmatch(r"(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)", times)
        assert match is not None, times
        entries.append((_srt_time(match[1]), _srt_time(match[2]), caption))
    for (start, end, caption), segment, begin, length in zip(
        entries, segments, starts, durations, strict=True
    ):
        assert caption == " ".join(segment.text.split())
        assert start == pytest.approx(begin, abs=0.01)
        assert end - start == pytest.approx(length, abs=0.01)
    assert soundfile.info(str(out)).duration == pytest.approx(entries[-1][1], abs=0.05)

    lrc = (tmp_path / "out.lrc").read_text(encoding="utf-8").splitlines()
    assert len(lrc) == len(segments)
    for line, (start, _end, caption) in zip(lrc, entries, strict=True):
        match = re.fullmatch(r"\[(\d\d:\d\d\.\d\d)\](.*)", line)
        assert match is not None, line
        assert _lrc_time(match[1]) == pytest.approx(start, abs=0.01)
        assert match[2] == caption

    listed = (tmp_path / "out.chapters.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[1] for line in listed] == ["The Beginning", "The Ending"]
    assert [c.title for c in chapters] == ["The Beginning", "The Ending"]
    for line, chapter in zip(listed, chapters, strict=True):
        first = next(i for i, s in enumerate(segments) if s.end > chapter.offset)
        stamp = line.split(" ", 1)[0]
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d\d", stamp)
        hours, minutes, seconds = stamp.split(":")
        at = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        assert at == pytest.approx(starts[first], abs=0.01)
    assert listed[1] != listed[0].replace("The Beginning", "The Ending")  # a later time


def test_chapters_without_chapter_marks_writes_no_list(
    home: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "plain.wav"
    result = export(home, "-o", str(out), "--chapters", "--captions", "srt", "Just one sentence.")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "plain.chapters.txt").exists()
    assert "no chapters" in result.stderr
    srt = (tmp_path / "plain.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:00,000 --> ") and srt.endswith("\nJust one sentence.\n")


LONG_TEXT = (
    "Short one. "
    "This sentence is long enough to need three caption lines on a screen, because it goes on "
    "and on about nothing at all. And a second long sentence follows it, so that the cues of "
    "two segments can be told apart."
)


def srt_entries(srt: str) -> list[tuple[float, float, str]]:
    entries = []
    for block in srt.split("\n\n"):
        _index, times, caption = block.rstrip("\n").split("\n")
        start, end = times.split(" --> ")
        entries.append((_srt_time(start), _srt_time(end), caption))
    return entries


async def test_an_aligned_voice_times_shorter_cues(tmp_path: Path) -> None:
    """The tone voice, aligned, says the characters of a segment evenly over its tone: each
    cue must start when the voice reaches its first word, to the alignment's resolution."""
    registry = ProviderRegistry()
    registry.add(ToneProvider(alignment=True))
    settings = Settings(
        voice=VoiceSettings(provider="tone", voice="440"),
        elevenlabs=ElevenLabsSettings(fallback_to_local=False),
    )
    target = tmp_path / "long.wav"
    await export_narration(
        SpeakRequest(text=LONG_TEXT),
        ExportOptions(target=target, captions=("srt", "lrc")),
        settings=settings,
        voice=VoiceRef("tone", "440"),
        providers=registry,
    )
    expected: list[tuple[float, str]] = []  # each cue's start, from the alignment, and text
    for segment, start, length in tone_timeline(LONG_TEXT):
        offset = 0
        for line in textwrap.wrap(segment.text, 42, break_long_words=False):
            offset = segment.text.index(line, offset)  # single spaces in LONG_TEXT
            expected.append((start + length * offset / len(segment.text), line))
            offset += len(line)
    assert len(expected) > len(tone_timeline(LONG_TEXT)) + 2  # long segments were cut

    entries = srt_entries((tmp_path / "long.srt").read_text(encoding="utf-8"))
    assert [caption for _start, _end, caption in entries] == [line for _at, line in expected]
    for (start, _end, _caption), (at, _line) in zip(entries, expected, strict=True):
        # A chunk of the tone is 50 ms; its character count is rounded: half a character off.
        assert start == pytest.approx(at, abs=0.025)
    for (_start, end, _caption), (following, _e, _c) in pairwise(entries):
        assert end == following
    assert entries[-1][1] == pytest.approx(soundfile.info(str(target)).duration, abs=0.01)
    lrc = (tmp_path / "long.lrc").read_text(encoding="utf-8").splitlines()
    assert [line.split("]", 1)[1] for line in lrc] == [line for _at, line in expected]
