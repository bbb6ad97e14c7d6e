"""The export API the CLI and the tray share: progress, cancellation, failures, one reading.

The whole engine runs (reader, segmenter, scheduler, worker, file sink); the tone voice stands in
for speech so that a book takes a second, or, slowed to real time, long enough to be cancelled
half-way.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import soundfile
from voxtray.core import cli, export
from voxtray.core.errors import ErrorCategory, VoxTrayError
from voxtray.core.export import ExportOptions, ExportProgress, export_narration
from voxtray.core.model import SpeakRequest, VoiceRef
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import ElevenLabsSettings, Settings, VoiceSettings
from voxtray.core.text import readers
from voxtray.core.text.readers import open_document

from tests.harness.documents import BOOK_TEXT, build_epub, build_pdf

TONE = VoiceRef("tone", "440")


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder the export spools into, so a test can see it is left empty."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def tone_registry(realtime_factor: float = 0.0) -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.add(ToneProvider(realtime_factor=realtime_factor))
    return registry


def settings() -> Settings:
    """The tone voice, and no local voice to fall back on (the registry has only tones)."""
    return Settings(
        voice=VoiceSettings(provider="tone", voice="440"),
        elevenlabs=ElevenLabsSettings(fallback_to_local=False),
    )


async def run_export(
    source: Path,
    options: ExportOptions,
    *,
    registry: ProviderRegistry | None = None,
    on_progress: Callable[[ExportProgress], None] | None = None,
    voice: VoiceRef = TONE,
) -> export.ExportResult:
    return await export_narration(
        SpeakRequest(source=source),
        options,
        settings=settings(),
        voice=voice,
        providers=registry or tone_registry(),
        on_progress=on_progress,
    )


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def chapter_fractions(book: Path) -> list[float]:
    with open_document(book) as stream:
        text = "".join(stream)
        return [chapter.offset / len(text) for chapter in stream.chapters]


async def test_progress_runs_through_the_book_to_one(tmp_path: Path, private_tmp: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    seen: list[ExportProgress] = []
    result = await run_export(
        book,
        ExportOptions(target=tmp_path / "book.wav", split_chapters=True),
        on_progress=seen.append,
    )
    fractions = [step.fraction for step in seen]
    assert fractions == sorted(fractions)  # across the chapter files, by the book's characters
    assert fractions[-1] == 1.0 and all(f < 1.0 for f in fractions[:-1])
    # The first segment of each chapter file reports a place just past the chapter's start in
    # the book (the end of its heading), not in the chapter.
    for start in chapter_fractions(book)[1:]:
        assert any(start < f < start + 0.1 for f in fractions), (start, fractions)
    written = [step.seconds for step in seen]
    assert written == sorted(written)
    total = sum(soundfile.info(str(path)).duration for path in result.audio)
    assert written[-1] == pytest.approx(total, abs=0.01) == pytest.approx(result.seconds, abs=0.01)
    assert names(private_tmp) == []  # the spooled text is gone


async def test_cancelling_half_way_removes_every_file(tmp_path: Path, private_tmp: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    out = tmp_path / "out"
    out.mkdir()
    second = chapter_fractions(book)[1]
    in_second_chapter = asyncio.Event()

    def watch(step: ExportProgress) -> None:
        if step.fraction >= second:
            in_second_chapter.set()

    task = asyncio.ensure_future(
        run_export(
            book,
            ExportOptions(target=out / "book.ogg", split_chapters=True, captions=("srt",)),
            registry=tone_registry(realtime_factor=0.5),  # half real time: ~15 s for the book
            on_progress=watch,
        )
    )
    await asyncio.wait_for(in_second_chapter.wait(), 30)
    assert names(out) == [
        "book-01 The Beginning.ogg",
        "book-01 The Beginning.srt",
        "book-02 The Middle.ogg",
    ]  # the first chapter done, the second being written
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert names(out) == []
    assert names(private_tmp) == []


async def test_cancelling_while_the_book_is_read_stops_the_reader(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = build_epub(tmp_path / "book.epub")
    entered = threading.Event()
    left = threading.Event()
    stops: list[threading.Event] = []
    real = export.spool_document

    def slow_reader(*args: Any, stop: threading.Event, **kwargs: Any) -> Any:
        stops.append(stop)
        entered.set()
        try:
            stop.wait(10)  # a long book: still reading when the export is cancelled
            return real(*args, stop=stop, **kwargs)
        finally:
            left.set()

    monkeypatch.setattr(export, "spool_document", slow_reader)
    target = tmp_path / "book.wav"
    task = asyncio.ensure_future(run_export(book, ExportOptions(target=target)))
    assert await asyncio.to_thread(entered.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stops[0].is_set()
    assert left.is_set()  # the export waited for the reader to stop before it cleaned up
    assert not target.exists()
    assert names(private_tmp) == []


async def test_an_unreadable_book_fails_before_any_file_is_touched(tmp_path: Path) -> None:
    source = build_pdf(tmp_path / "report.pdf", encrypt="user-secret")
    target = tmp_path / "report.wav"
    target.write_bytes(b"an older export")
    with pytest.raises(VoxTrayError, match=r"report\.pdf is encrypted") as failure:
        await run_export(source, ExportOptions(target=target, captions=("srt",)))
    assert failure.value.category is ErrorCategory.INPUT
    assert target.read_bytes() == b"an older export"
    assert names(tmp_path) == ["report.pdf", "report.wav"]


async def test_a_voice_failure_removes_what_was_written(tmp_path: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(VoxTrayError, match="not-a-pitch"):
        await run_export(
            book,
            ExportOptions(target=out / "book.flac", split_chapters=True),
            voice=VoiceRef("tone", "not-a-pitch"),
        )
    assert names(out) == []


def test_the_cli_reads_a_book_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checking the file, narrating it and listing its chapters: one parse of the EPUB."""
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    parsed: list[Path] = []
    real = readers.open_epub

    def counting(path: Path, archive: Any) -> Any:
        parsed.append(path)
        return real(path, archive)

    monkeypatch.setattr(readers, "open_epub", counting)
    book = build_epub(tmp_path / "book.epub")
    target = tmp_path / "book.wav"
    code = cli.main(
        ["export", "--provider", "tone", "--file", str(book), "-o", str(target), "--chapters"]
    )
    assert code == 0, capsys.readouterr().err
    assert parsed == [book]
    listed = (tmp_path / "book.chapters.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[1] for line in listed] == ["The Beginning", "The Middle", "Epilogue"]
    assert soundfile.info(str(target)).duration > len(BOOK_TEXT) * 0.04 * 0.9
