"""The tray's "Export file…": a document into an audio file, in the background.

The work is the engine's own export (``voxtray.core.export``), the one ``voxtray export`` runs,
with providers and an output of its own: the live narrator keeps speaking meanwhile (the export
leaves it a core), and nothing of the export reaches the sound card. One export runs at a time.
Its task is owned here: "Cancel export" in the menu, or quitting, cancels it and awaits it, and
a cancelled export leaves no file behind. The menu entry and the tooltip show how far it is
(``progressed``); a notice says when it is done or why it failed.

After the audio file, a small dialog asks what goes beside it, as ``voxtray export`` does with
``--captions``, ``--chapters`` and ``--split-chapters``: a platform's own save dialog cannot
take extra controls, and Qt's own would look foreign. The choice is kept for the session, so
the next export starts from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)
from voxtray.core.audio.sinks import supported_formats
from voxtray.core.errors import VoxTrayError
from voxtray.core.export import (
    CaptionKind,
    ExportOptions,
    ExportProgress,
    ExportResult,
    export_narration,
)
from voxtray.core.model import SpeakRequest
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.settings import Settings
from voxtray.core.text.readers import probe_document

from .notices import Level

_LOG = logging.getLogger(__name__)

DOCUMENT_FILTERS = [
    "Documents (*.epub *.pdf *.docx *.md *.markdown *.html *.htm *.txt *.text)",
    "All files (*)",
]
_AUDIO_NAMES = {
    ".mp3": "MP3 audio",
    ".ogg": "Ogg Vorbis audio",
    ".flac": "FLAC audio",
    ".wav": "WAV audio",
}

Notify = Callable[[str, str, Level], None]
Chapters = Literal["none", "list", "split"]


@dataclass(frozen=True, slots=True)
class ExportChoices:
    """What is written beside the audio: the command line's ``--captions``, ``--chapters``
    (``"list"``) and ``--split-chapters`` (``"split"``)."""

    captions: tuple[CaptionKind, ...] = ()
    chapters: Chapters = "none"

    def options(self, target: Path) -> ExportOptions:
        return ExportOptions(
            target=target,
            captions=self.captions,
            chapter_list=self.chapters == "list",
            split_chapters=self.chapters == "split",
        )


class ExportOptionsDialog(QDialog):
    """Captions and chapters for one export; every control has a mnemonic and a name that a
    screen reader says, Return exports and Escape cancels."""

    def __init__(self, target: Path, choices: ExportChoices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        stem = target.stem
        self.setWindowTitle(f"Export {target.name}")
        self.setAccessibleName("Export options")
        self.srt = self._caption_box(f"&SRT captions ({stem}.srt)", "SRT captions", "srt", choices)
        self.lrc = self._caption_box(f"&LRC lyrics ({stem}.lrc)", "LRC captions", "lrc", choices)
        self.chapter_buttons: dict[Chapters, QRadioButton] = {
            "none": QRadioButton("&No chapter list"),
            "list": QRadioButton(f"C&hapter list ({stem}.chapters.txt)"),
            "split": QRadioButton("&One audio file per chapter"),
        }
        names = {
            "none": "No chapter list",
            "list": "Chapter list",
            "split": "One file per chapter",
        }
        group = QButtonGroup(self)  # arrow keys move inside it, Tab leaves it
        for key, button in self.chapter_buttons.items():
            button.setAccessibleName(names[key])
            button.setChecked(key == choices.chapters)
            group.addButton(button)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.export_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.export_button.setText("&Export")
        self.export_button.setAccessibleName("Start the export")
        self.export_button.setDefault(True)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setText("&Cancel")
        self.cancel_button.setAccessibleName("Do not export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        captions = QGroupBox("Captions")
        column = QVBoxLayout(captions)
        column.addWidget(self.srt)
        column.addWidget(self.lrc)
        chapters = QGroupBox("Chapters")
        column = QVBoxLayout(chapters)
        for button in self.chapter_buttons.values():
            column.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(captions)
        layout.addWidget(chapters)
        layout.addWidget(self.buttons)

    def _caption_box(
        self, text: str, name: str, kind: CaptionKind, choices: ExportChoices
    ) -> QCheckBox:
        box = QCheckBox(text)
        box.setAccessibleName(name)
        box.setChecked(kind in choices.captions)
        return box

    def choices(self) -> ExportChoices:
        captions: tuple[CaptionKind, ...] = tuple(
            kind for kind, box in (("srt", self.srt), ("lrc", self.lrc)) if box.isChecked()
        )
        chapters: Chapters = next(
            (key for key, button in self.chapter_buttons.items() if button.isChecked()), "none"
        )
        return ExportChoices(captions, chapters)


def progress_text(source: Path, fraction: float) -> str:
    return f"Exporting {source.name} — {int(fraction * 100)} %"


def finished_text(result: ExportResult) -> str:
    """The notice of a finished export: the audio written, its length, and what could not be
    done as asked (a chapter list for a document without chapters)."""
    names = ", ".join(path.name for path in result.audio)
    notes = "".join(f" Note: {note}" for note in result.notes)
    return f"Wrote {names} ({duration_text(result.seconds)}).{notes}"


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Exporter(QObject):
    """Asks for a document and a target file, then exports; see the module docstring."""

    progressed = Signal(str)  # the menu's and tooltip's text; "" when no export runs
    finished = Signal(object)  # ExportResult
    failed = Signal(str)  # a sentence for the user

    def __init__(
        self,
        settings: Callable[[], Settings],
        providers: Callable[[Settings], ProviderRegistry],
        notify: Notify,
        parent: QObject | None = None,
    ) -> None:
        """``settings`` gives the settings as they are when an export starts (voice, rate);
        ``providers`` makes a fresh registry for each export, closed when it ends."""
        super().__init__(parent)
        self._settings = settings
        self.providers = providers
        self._notify = notify
        self._task: asyncio.Task[None] | None = None
        self.source_dialog: QFileDialog | None = None
        self.target_dialog: QFileDialog | None = None
        self.options_dialog: ExportOptionsDialog | None = None
        self.choices = ExportChoices()
        """What the last export wrote beside its audio: the next one starts from it."""

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- choosing ----------------------------------------------------------------------------

    def choose(self) -> None:
        """Ask for the document (not modal: the app goes on), then for the audio file."""
        if self.running:
            return
        dialog = QFileDialog(None, "Export a document as audio")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(DOCUMENT_FILTERS)
        dialog.fileSelected.connect(lambda name: self._choose_target(Path(name)))
        _dispose(self.source_dialog)
        self.source_dialog = dialog
        dialog.open()

    def _choose_target(self, source: Path) -> None:
        try:
            probe_document(source)  # a picture chosen by mistake is named now, not later
        except VoxTrayError as error:
            self._notify("Cannot export", str(error), Level.WARNING)
            return
        suffixes = [suffix for suffix in _AUDIO_NAMES if suffix in supported_formats()]
        dialog = QFileDialog(None, f"Save {source.name} as audio")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setNameFilters([f"{_AUDIO_NAMES[s]} (*{s})" for s in suffixes])
        dialog.setDefaultSuffix(suffixes[0].lstrip("."))  # a bare name gets the first format
        dialog.setDirectory(str(source.parent))
        dialog.selectFile(source.stem + suffixes[0])
        dialog.fileSelected.connect(lambda name: self._choose_options(source, Path(name)))
        _dispose(self.target_dialog)
        self.target_dialog = dialog
        dialog.open()

    def _choose_options(self, source: Path, target: Path) -> None:
        dialog = ExportOptionsDialog(target, self.choices)
        dialog.accepted.connect(lambda: self._chosen(source, target, dialog.choices()))
        _dispose(self.options_dialog)
        self.options_dialog = dialog
        dialog.open()

    def _chosen(self, source: Path, target: Path, choices: ExportChoices) -> None:
        self.choices = choices
        self.start(source, target)

    # -- running -----------------------------------------------------------------------------

    def start(self, source: Path, target: Path) -> bool:
        """Export ``source`` to ``target`` (format by its extension) with :attr:`choices`;
        False if one runs."""
        if self.running:
            return False
        options = self.choices.options(target)
        self._task = asyncio.get_running_loop().create_task(self._export(source, options))
        return True

    def cancel(self) -> None:
        """Stop the export; it removes what it wrote."""
        if self._task is not None:
            self._task.cancel()

    async def aclose(self) -> None:
        """Cancel a running export and wait until it has cleaned up (on quit)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for dialog in (self.source_dialog, self.target_dialog, self.options_dialog):
            if dialog is not None:
                dialog.close()

    async def _export(self, source: Path, options: ExportOptions) -> None:
        settings = self._settings()
        shown = -1

        def advance(step: ExportProgress) -> None:
            nonlocal shown
            percent = int(step.fraction * 100)
            if percent != shown:
                shown = percent
                self.progressed.emit(progress_text(source, step.fraction))

        advance(ExportProgress(0.0, 0.0))
        try:
            result = await export_narration(
                SpeakRequest(source=source, rate=settings.voice.rate),
                options,
                settings=settings,
                voice=settings.voice.ref,
                providers=self.providers(settings),
                on_progress=advance,
                on_warning=lambda message: self._notify("Export", message, Level.WARNING),
            )
        except VoxTrayError as error:
            self._failed(str(error))
            return
        except Exception as exc:  # a bug must still end as a notice, not a silent task
            _LOG.exception("Exporting %s failed", source)
            self._failed(f"VoxTray hit an internal error while exporting {source.name} ({exc!r}).")
            return
        finally:
            self.progressed.emit("")
        self._notify("Export finished", finished_text(result), Level.INFO)
        self.finished.emit(result)

    def _failed(self, reason: str) -> None:
        self._notify("Export failed", reason, Level.ERROR)
        self.failed.emit(reason)


def _dispose(dialog: QDialog | None) -> None:
    """The previous export's dialog: each export asks afresh (another folder, another name)."""
    if dialog is not None:
        dialog.deleteLater()
