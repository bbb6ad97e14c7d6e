"""``voxtray export --split-chapters``: a real process, a real EPUB, files decoded again.

Each chapter file is compared with the same book exported whole (``--chapters`` says where each
chapter starts in it): the files together are the book, chapter by chapter, and only the break
between two chapters (if the voice leaves one) is not in any file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import soundfile

from tests.harness.cli import isolated_env, run_voxtray
from tests.harness.documents import build_epub
from tests.harness.signal import rms

CHAPTERS = ["The Beginning", "The Middle", "Epilogue"]
BREAK = 0.5
"""Longest silence a voice may leave between two chapters (a paragraph's pause)."""


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


def export(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = run_voxtray(env, "export", *args, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def seconds(path: Path) -> float:
    return float(soundfile.info(str(path)).duration)


def chapter_starts(listing: Path) -> list[float]:
    starts = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        hours, minutes, secs = line.split(" ", 1)[0].split(":")
        starts.append(int(hours) * 3600 + int(minutes) * 60 + float(secs))
    return starts


def check_against_whole(files: list[Path], whole: Path, listing: Path, slack: float) -> None:
    """Each file is its chapter of the whole export; ``slack``: how much two readings of the
    same text may differ (none for the tone voice, some for a neural voice)."""
    starts = [*chapter_starts(listing), seconds(whole)]
    lengths = [seconds(path) for path in files]
    assert len(lengths) == len(starts) - 1
    for length, start, end in zip(lengths, starts, starts[1:], strict=False):
        # The whole file has the break before the next chapter; the chapter file ends before.
        assert end - start - BREAK - slack * length <= length <= end - start + slack * length
    assert sum(lengths) == pytest.approx(seconds(whole), abs=BREAK * (len(files) - 1), rel=slack)


def test_one_file_per_chapter_with_the_tone_voice(home: dict[str, str], tmp_path: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    out = tmp_path / "out"
    out.mkdir()
    result = export(
        home, "--provider", "tone", "--file", str(book), "-o", str(out / "book.wav"),
        "--split-chapters", "--captions", "srt",
    )  # fmt: skip
    names = [f"book-0{n} {title}" for n, title in enumerate(CHAPTERS, start=1)]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{name}.wav" for name in names] + [f"{name}.srt" for name in names]
    )
    files = [out / f"{name}.wav" for name in names]
    for path in files:
        assert f"Wrote {path}" in result.stderr
        audio, _rate = soundfile.read(path, dtype="float32")
        assert rms(audio) > 0.05  # a chapter's tones, not silence

    # Captions per file, timed from the file's own start, naming the chapter's first words.
    first_captions = []
    for name in names:
        blocks = (out / f"{name}.srt").read_text(encoding="utf-8").split("\n\n")
        index, times, caption = blocks[0].rstrip("\n").split("\n")
        assert (index, times[:12]) == ("1", "00:00:00,000")
        first_captions.append(caption)
    assert first_captions == ["Chapter One", "Chapter Two", "Epilogue"]

    whole = tmp_path / "whole.wav"
    export(home, "--provider", "tone", "--file", str(book), "-o", str(whole), "--chapters")
    check_against_whole(files, whole, tmp_path / "whole.chapters.txt", slack=0.002)


def test_mp3_chapter_files_from_a_book_with_an_opening(
    home: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "notes.md"
    source.write_text(
        "A few words before any chapter.\n\n"
        "# Rain: a Story?\n\nIt rained all day.\n\n"
        "# Sun\n\nThen the sun came out.\n",
        encoding="utf-8",
    )
    result = export(
        home, "--provider", "tone", "--file", str(source), "-o", str(tmp_path / "notes.mp3"),
        "--split-chapters",
    )  # fmt: skip
    files = sorted(tmp_path.glob("notes*.mp3"))
    assert [p.name for p in files] == [
        "notes-00 Opening.mp3",
        "notes-01 Rain - a Story.mp3",
        "notes-02 Sun.mp3",
    ]
    assert not (tmp_path / "notes.mp3").exists()
    assert "note:" not in result.stderr
    for path in files:
        assert seconds(path) > 0.5


def test_a_book_whose_first_chapter_starts_at_once_has_no_opening(
    home: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "tidy.md"
    source.write_text("# One\n\nFirst.\n\n# Two\n\nSecond.\n", encoding="utf-8")
    export(
        home, "--provider", "tone", "--file", str(source), "-o", str(tmp_path / "tidy.wav"),
        "--split-chapters",
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("tidy-*")) == ["tidy-01 One.wav", "tidy-02 Two.wav"]


@pytest.mark.parametrize("kind", ["text", "txt"])
def test_without_chapters_one_file_and_a_note(
    home: dict[str, str], tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "plain.wav"
    if kind == "text":
        given = ["Just one sentence, and no chapters."]
    else:
        source = tmp_path / "plain.txt"
        source.write_text("Just one sentence, and no chapters.\n", encoding="utf-8")
        given = ["--file", str(source)]
    result = export(
        home, "--provider", "tone", *given, "-o", str(target), "--split-chapters",
        "--captions", "lrc",
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("plain*.*") if p.suffix != ".txt") == [
        "plain.lrc",
        "plain.wav",
    ]
    assert "note: the document has no chapters; wrote one file." in result.stderr
    assert seconds(target) > 1.0


def test_chapter_list_and_split_chapters_do_not_mix(home: dict[str, str], tmp_path: Path) -> None:
    result = run_voxtray(
        home, "export", "hello", "-o", str(tmp_path / "x.wav"), "--chapters", "--split-chapters"
    )
    assert result.returncode == 2
    assert re.search(r"--split-chapters.*not allowed with.*--chapters", result.stderr), (
        result.stderr
    )
    assert list(tmp_path.glob("x*")) == []


@pytest.mark.piper
@pytest.mark.slow
def test_one_file_per_chapter_with_the_real_voice(home: dict[str, str], tmp_path: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    out = tmp_path / "out"
    out.mkdir()
    export(home, "--file", str(book), "-o", str(out / "book.flac"), "--split-chapters")
    files = [out / f"book-0{n} {title}.flac" for n, title in enumerate(CHAPTERS, start=1)]
    assert sorted(out.iterdir()) == sorted(files)
    for path in files:
        audio, _rate = soundfile.read(path, dtype="float32")
        assert rms(audio) > 0.02  # speech, not silence
        assert seconds(path) > 1.0
    whole = tmp_path / "whole.flac"
    export(home, "--file", str(book), "-o", str(whole), "--chapters")
    # The voice draws its timing with some randomness: two readings differ by a few per cent.
    check_against_whole(files, whole, tmp_path / "whole.chapters.txt", slack=0.08)
