"""The tray's "Export file…": a document into an audio file, in the background.

The work is the engine's own export (``voxtray.core.export``), the one ``voxtray export`` runs,
with providers and an output of its own: the live narrator keeps speaking meanwhile (the export
leaves it a core), and nothing of the export reaches the sound card. One export runs at a time.
Its task is owned here: "Cancel export" in the menu, or quitting, cancels it and awaits it, and
a cancelled export leaves no file behind. The menu entry and the tooltip show how far it is
(``progressed``); a notice says when it is done or why it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog
from voxtray.core.audio.sinks import supported_formats
from voxtray.core.errors import VoxTrayError
from voxtray.core.export import ExportOptions, ExportProgress, export_narration
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


def progress_text(source: Path, fraction: float) -> str:
    return f"Exporting {source.name} — {int(fraction * 100)} %"


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
        dialog.fileSelected.connect(lambda name: self.start(source, Path(name)))
        _dispose(self.target_dialog)
        self.target_dialog = dialog
        dialog.open()

    # -- running -----------------------------------------------------------------------------

    def start(self, source: Path, target: Path) -> bool:
        """Export ``source`` to ``target`` (format by its extension); False if one runs."""
        if self.running:
            return False
        self._task = asyncio.get_running_loop().create_task(self._export(source, target))
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
        for dialog in (self.source_dialog, self.target_dialog):
            if dialog is not None:
                dialog.close()

    async def _export(self, source: Path, target: Path) -> None:
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
                ExportOptions(target=target),
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
        names = ", ".join(path.name for path in result.audio)
        self._notify(
            "Export finished",
            f"Wrote {names} ({duration_text(result.seconds)}).",
            Level.INFO,
        )
        self.finished.emit(result)

    def _failed(self, reason: str) -> None:
        self._notify("Export failed", reason, Level.ERROR)
        self.failed.emit(reason)


def _dispose(dialog: QFileDialog | None) -> None:
    """The previous export's dialog: each export asks afresh (another folder, another name)."""
    if dialog is not None:
        dialog.deleteLater()
