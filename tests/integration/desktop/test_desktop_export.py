"""The tray's "Export file…": the menu, the two file dialogs, progress, cancel and notices.

The app is the real one (minus hotkeys and the sound card, replaced by the clocked in-memory
output), on the qasync loop, offscreen; the export itself is the engine's, into real files, with
the tone voice so that a book takes a moment, or, slowed to real time, long enough to cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import soundfile
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from voxtray.core.export import NO_CHAPTER_LIST, ExportResult
from voxtray.core.model import RequestFinished, VoiceRef
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import ElevenLabsSettings, Settings, VoiceSettings
from voxtray.desktop.app import TrayApp
from voxtray.desktop.export import ExportChoices, ExportOptionsDialog, finished_text
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
    qt = QApplication.instance()
    assert isinstance(qt, QApplication)
    qt.setQuitOnLastWindowClosed(False)  # as the tray app: closing a dialog must not stop it
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
        options = app.exporter.options_dialog
        assert options is not None and options.isVisible()
        assert not app.exporter.running  # not before the options are confirmed
        options.export_button.click()  # nothing beside the audio: the defaults
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


def srt_captions(path: Path) -> list[str]:
    """The caption texts of an SRT file, checking each block's number and times."""
    captions = []
    for number, block in enumerate(path.read_text(encoding="utf-8").split("\n\n"), start=1):
        index, times, caption = block.rstrip("\n").split("\n")
        assert index == str(number)
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d", times), times
        captions.append(caption)
    return captions


def keyboard_controls(dialog: QWidget) -> list[QWidget]:
    return [
        widget
        for widget in dialog.findChildren(QWidget)
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(dialog)
    ]


async def choose_files(app: TrayApp, book: Path, target: Path) -> ExportOptionsDialog:
    """Through the menu: the document, the audio file; the options dialog that follows."""
    app.tray.export_action.trigger()
    documents = app.exporter.source_dialog
    assert documents is not None
    documents.selectFile(str(book))
    documents.accept()
    audio = app.exporter.target_dialog
    assert audio is not None
    audio.selectFile(str(target))
    audio.accept()
    options = app.exporter.options_dialog
    assert options is not None and options.isVisible()
    return options


async def test_captions_and_chapters_chosen_from_the_keyboard(xdg: Path, tmp_path: Path) -> None:
    book = build_epub(tmp_path / "book.epub")
    out = tmp_path / "out"
    out.mkdir()
    async with running_app() as app:
        options = await choose_files(app, book, out / "book.wav")
        controls = keyboard_controls(options)
        for control in controls:
            assert control.accessibleName(), f"{control!r} has no accessible name"
        assert {control.accessibleName() for control in controls} >= {
            "SRT captions",
            "LRC captions",
            "No chapter list",
            "Chapter list",
            "One file per chapter",
            "Start the export",
            "Do not export",
        }
        assert options.accessibleName() == "Export options"
        # Each control has its own Alt+letter, and Tab reaches every one of them.
        mnemonics = [QKeySequence.mnemonic(c.text()) for c in controls if hasattr(c, "text")]
        assert len(set(mnemonics)) == len(mnemonics) and QKeySequence() not in mnemonics
        chain, widget = set(), options.srt
        for _ in range(50):
            chain.add(widget)
            widget = widget.nextInFocusChain()
        assert set(controls) <= chain
        assert options.chapter_buttons["none"].isChecked() and not options.srt.isChecked()

        QTest.keyClick(options.srt, Qt.Key.Key_Space)
        QTest.keyClick(options.chapter_buttons["list"], Qt.Key.Key_Space)
        QTest.keyClick(options.srt, Qt.Key.Key_Return)  # the dialog's default button: Export
        assert not options.isVisible() and app.exporter.running
        (result,) = await wait_signal(app.exporter.finished, limit=60)

        assert result.files == (out / "book.wav", out / "book.srt", out / "book.chapters.txt")
        assert soundfile.info(str(out / "book.wav")).duration == pytest.approx(
            result.seconds, abs=0.01
        )
        assert srt_captions(out / "book.srt")[0] == "Chapter One"
        listed = (out / "book.chapters.txt").read_text(encoding="utf-8").splitlines()
        assert [line.split(" ", 1)[1] for line in listed] == [
            "The Beginning",
            "The Middle",
            "Epilogue",
        ]

        # The next export starts from the same choices; this time one file per chapter.
        options = await choose_files(app, book, out / "again.wav")
        assert options.srt.isChecked() and not options.lrc.isChecked()
        assert options.chapter_buttons["list"].isChecked()
        QTest.keyClick(options.srt, Qt.Key.Key_Space)  # captions off again
        options.chapter_buttons["split"].click()
        options.export_button.click()
        (result,) = await wait_signal(app.exporter.finished, limit=60)
    names = ["again-01 The Beginning.wav", "again-02 The Middle.wav", "again-03 Epilogue.wav"]
    assert [path.name for path in result.audio] == names
    assert sorted(path.name for path in out.glob("again*")) == names


async def test_cancelling_the_options_exports_nothing(xdg: Path, tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    book = build_epub(folder / "book.epub")
    async with running_app() as app:
        options = await choose_files(app, book, folder / "book.wav")
        QTest.keyClick(options, Qt.Key.Key_Escape)
        assert not options.isVisible()
        assert not app.exporter.running
        assert app.exporter.choices == ExportChoices()
    assert await asyncio.to_thread(os.listdir, folder) == ["book.epub"]


def test_the_notice_says_what_could_not_be_done() -> None:
    result = ExportResult(
        audio=(Path("/out/notes.mp3"),),
        files=(Path("/out/notes.mp3"),),
        seconds=75.0,
        notes=(NO_CHAPTER_LIST,),
    )
    assert finished_text(result) == (
        "Wrote notes.mp3 (1:15). Note: the document has no chapters; no chapter list written."
    )
