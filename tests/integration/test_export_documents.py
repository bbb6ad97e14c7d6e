"""``voxtray export`` of a Word file, a web page and a text file: a real process, and every file
it wrote decoded again (audio of the right length, captions a player can read)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile
from voxtray.core.text.readers import open_document

from tests.harness.cli import isolated_env, run_voxtray, tone_seconds
from tests.harness.documents import build_docx
from tests.harness.signal import rms

HTML = """<!doctype html>
<html><head><title>Garden notes</title><style>p { color: green }</style></head>
<body><nav>Home | About</nav>
<h1>Garden notes</h1>
<p>The tomatoes came up early this year, and the beans followed a week later.</p>
<p>Water in the evening, never at noon.</p>
</body></html>
"""
TEXT = "Plain text is read as it is.\n\nA second paragraph ends the file.\n"


def write_html(path: Path) -> Path:
    path.write_text(HTML, encoding="utf-8")
    return path


def write_text(path: Path) -> Path:
    path.write_text(TEXT, encoding="utf-8")
    return path


def srt_times(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    seconds, millis = rest.split(",")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def parse_srt(srt: str) -> list[tuple[float, float, str]]:
    entries = []
    for number, block in enumerate(srt.split("\n\n"), start=1):
        index, times, caption = block.rstrip("\n").split("\n")
        assert index == str(number)
        match = re.fullmatch(r"(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)", times)
        assert match is not None, times
        entries.append((srt_times(match[1]), srt_times(match[2]), caption))
    return entries


@pytest.mark.parametrize(
    ("name", "build", "audio", "words"),
    [
        ("report.docx", build_docx, "mp3", "Sales grew in every region."),
        ("garden.html", write_html, "ogg", "Water in the evening, never at noon."),
        ("plain.txt", write_text, "flac", "A second paragraph ends the file."),
    ],
)
def test_a_document_exports_to_audio_and_captions_that_decode(
    tmp_path: Path, name: str, build: Callable[[Path], Path], audio: str, words: str
) -> None:
    source = build(tmp_path / name)
    out = tmp_path / f"out.{audio}"
    result = run_voxtray(
        isolated_env(tmp_path), "export", "--provider", "tone", "--file", str(source),
        "-o", str(out), "--captions", "srt", "--captions", "lrc",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    samples, rate = soundfile.read(out, dtype="float32")
    duration = len(samples) / rate
    with open_document(source) as stream:
        text = "".join(stream)
    # All of it spoken (numbers said in words make it a little longer: "12" is "twelve").
    assert duration > tone_seconds(text) - 0.1 > 0
    assert rms(samples) > 0.05

    entries = parse_srt((tmp_path / "out.srt").read_text(encoding="utf-8"))
    starts = [start for start, _end, _text in entries]
    assert starts[0] == 0.0 and starts == sorted(starts)
    assert all(start < end for start, end, _text in entries)
    assert entries[-1][1] == pytest.approx(duration, abs=0.1)  # MP3 and Vorbis pad a little
    assert words in [caption for _start, _end, caption in entries]
    assert "Home" not in " ".join(caption for _s, _e, caption in entries)  # no page furniture

    lrc = (tmp_path / "out.lrc").read_text(encoding="utf-8").splitlines()
    assert len(lrc) == len(entries)
    for line, (start, _end, caption) in zip(lrc, entries, strict=True):
        match = re.fullmatch(r"\[(\d\d):(\d\d\.\d\d)\](.+)", line)
        assert match is not None, line
        assert int(match[1]) * 60 + float(match[2]) == pytest.approx(start, abs=0.01)
        assert match[3] == caption
