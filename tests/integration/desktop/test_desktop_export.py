"""The tray's "Export file…": the menu, the two file dialogs, progress, cancel and notices.

The app is the real one (minus hotkeys and the sound card, replaced by the clocked in-memory
output), on the qasync loop, offscreen; the export itself is the engine's, into real files, with
the tone voice so that a book takes a moment, or, slowed to real time, long enough to cancel.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import soundfile
from voxtray.core.model import RequestFinished, VoiceRef
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import ElevenLabsSettings, Settings, VoiceSettings
from voxtray.desktop.app import TrayApp
from voxtray.desktop.notices import Level

from tests.fakes.clocked_output import ClockedOutput
from tests.harness.documents import build_epub, build_pdf
from tests.harness.qtasync import wait_signal, wait_until

RATE = 22050
SENTENCE = "This sentence is spoken live while the book is exported."
PROGRESS = re.compile(r"Exporting book\.epub — (\d+) %")


def tone_registry(realtime_factor: float = 0.0) -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE, realtime_factor=realtime_factor))
    return registry


@contextlib.asynccontextmanager
async def running_app() -> AsyncIterator[TrayApp]:
    """The whole app minus hotkeys and sound card, started; shut down at the end (inside the
    test: see test_desktop_widgets.py for why not in a fixture)."""
    registry = tone_registry()
    narrator = Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=4.0),
        providers=registry,
        default_voice=VoiceRef("tone", "440"),
        settings=WorkerSettings(lookahead_seconds=2.0),
    )
    settings = Settings(
        voice=VoiceSettings(provider="tone", voice="440"),
        elevenlabs=ElevenLabsSettings(fallback_to_local=False),  # tones only, no Piper to load
    )
    app = TrayApp(settings, narrator=narrator, providers=registry, hotkeys=False, notice_window=0.3)
    await app.start()
    try:
        yield app
    finally:
        await app.shutdown()


async def test_export_file_from_the_menu_shows_progress_and_a_notice(
    xdg: Path, tmp_path: Path
) -> None:
    book = build_epub(tmp_path / "book.epub")
    target = tmp_path / "book.wav"
    async with running_app() as app:
        seen: list[tuple[str, str, bool, bool]] = []  # text, tooltip, entry enabled, cancel shown

        def note(text: str) -> None:
            tray = app.tray
            seen.append(
                (
                    text,
                    tray.tooltip(),
                    tray.export_action.isEnabled(),
                    tray.cancel_export_action.isVisible(),
                )
            )

        app.exporter.progressed.connect(note)
        assert not app.tray.cancel_export_action.isVisible()

        app.tray.export_action.trigger()
        documents = app.exporter.source_dialog
        assert documents is not None and documents.isVisible()
        documents.selectFile(str(book))
        documents.accept()
        audio = app.exporter.target_dialog
        assert audio is not None and audio.isVisible()
        (proposed,) = audio.selectedFiles()
        assert Path(proposed).parent == tmp_path and Path(proposed).stem == "book"
        audio.selectFile(str(target))
        audio.accept()
        assert app.exporter.running

        (result,) = await wait_signal(app.exporter.finished, limit=60)
        (notice,) = await wait_until(app.notifier.shown, lambda n: n.title == "Export finished")

    assert result.audio == (target,)
    assert soundfile.info(str(target)).duration == pytest.approx(result.seconds, abs=0.01)
    assert result.seconds > 5.0
    assert notice.level is Level.INFO and "book.wav" in notice.message

    percents = [int(m[1]) for text, *_ in seen if (m := PROGRESS.fullmatch(text))]
    assert percents[0] == 0 and percents == sorted(percents) and len(set(percents)) > 3
    for text, tooltip, enabled, cancel_shown in seen[:-1]:
        assert tooltip == f"VoxTray — idle\n{text}"  # the live voice is idle; the export runs
        assert not enabled and cancel_shown
    assert seen[-1] == ("", "VoxTray — idle", True, False)  # done: the entry offers an export
    assert app.tray.export_action.text() == "E&xport file…"


async def test_live_speech_goes_on_and_cancel_leaves_no_file(xdg: Path, tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    book = build_epub(folder / "book.epub")
    target = folder / "book.ogg"
    async with running_app() as app:
        app.exporter.providers = lambda _settings: tone_registry(realtime_factor=1.0)
        assert app.exporter.start(book, target)
        await wait_until(app.exporter.progressed, lambda text: bool(PROGRESS.fullmatch(text)))
        assert not app.exporter.start(book, folder / "again.ogg")  # one export at a time

        handle = app.speak(text=SENTENCE)  # the live voice, on its own output
        await wait_signal(app.bridge.finished)
        assert isinstance(await handle.wait(), RequestFinished)
        assert app.exporter.running  # the book (about 12 s at real time) is not done

        assert app.tray.cancel_export_action.isVisible()
        app.tray.cancel_export_action.trigger()
        await wait_until(app.exporter.progressed, lambda text: text == "")
        assert [p.name for p in folder.iterdir()] == ["book.epub"]  # the partial file is gone
        assert app.tray.export_action.isEnabled()
        assert not app.tray.cancel_export_action.isVisible()
        assert all(n.title != "Export failed" for n in app.notifier.history)


async def test_a_failed_export_is_a_notice_naming_the_file(xdg: Path, tmp_path: Path) -> None:
    source = build_pdf(tmp_path / "report.pdf", encrypt="user-secret")
    target = tmp_path / "report.mp3"
    async with running_app() as app:
        assert app.exporter.start(source, target)
        (reason,) = await wait_signal(app.exporter.failed)
        (notice,) = await wait_until(app.notifier.shown, lambda n: n.title == "Export failed")
    assert "report.pdf is encrypted" in reason
    assert notice.level is Level.ERROR and notice.message == reason
    assert not target.exists()
