"""The drop target: a small window that takes dropped files and text, one request each.

Files are checked with the engine's own probe (exists, readable, text) before they are queued,
so a picture dropped by mistake gets a notice naming it and saying why, at once, rather than a
failure later. Everything works from the keyboard: "Open file…" (Ctrl+O) and "Paste text"
(Ctrl+V) do what dragging does.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from voxtray.core.errors import InputError
from voxtray.core.text.readers import probe_document

_LOG = logging.getLogger(__name__)

FILE_FILTERS = ["Text files (*.txt *.md *.markdown *.text *.log *.csv)", "All files (*)"]


class DropWindow(QWidget):
    """Emits ``fileDropped`` / ``textDropped`` for what it accepts, ``rejected`` otherwise."""

    fileDropped = Signal(object)  # Path, already probed
    textDropped = Signal(str)
    rejected = Signal(str)  # a sentence naming the file and the reason

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("VoxTray — drop here to read aloud")
        self.setAccessibleName("VoxTray drop target")
        self.setAccessibleDescription("Drop files or text here, and VoxTray reads them aloud.")
        self.setAcceptDrops(True)
        self.setMinimumSize(320, 200)
        self._dialog: QFileDialog | None = None

        self.area = QLabel("Drop files or text here\nto have them read aloud")
        self.area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.area.setFrameShape(QFrame.Shape.StyledPanel)
        self.area.setMinimumHeight(110)
        self.area.setAccessibleName("Drop area")
        self.area.setStyleSheet("QLabel { border: 2px dashed palette(mid); border-radius: 8px; }")

        self.open_button = QPushButton("&Open file…")
        self.open_button.setAccessibleName("Open file")
        self.open_button.setToolTip("Choose a text file to read aloud (Ctrl+O)")
        self.open_button.clicked.connect(self.choose_file)
        self.paste_button = QPushButton("&Paste text")
        self.paste_button.setAccessibleName("Paste text")
        self.paste_button.setToolTip("Read the text on the clipboard aloud (Ctrl+V)")
        self.paste_button.clicked.connect(self.paste)
        self.status = QLabel("")
        self.status.setAccessibleName("Status")
        self.status.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.paste_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.area, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        for key, action in (
            (QKeySequence(QKeySequence.StandardKey.Open), self.choose_file),
            (QKeySequence(QKeySequence.StandardKey.Paste), self.paste),
            (QKeySequence(QKeySequence.StandardKey.Close), self.close),
            (QKeySequence(Qt.Key.Key_Escape), self.close),
        ):
            QShortcut(key, self).activated.connect(action)
        self.open_button.setFocus()

    # -- what the window accepts ----------------------------------------------------------------

    def accept_files(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                probe_document(path)
            except InputError as error:
                self._say(f"{path.name} was not queued: {error}")
                self.rejected.emit(f"{path.name} cannot be read aloud: {error}")
                continue
            self._say(f"Queued {path.name}")
            self.fileDropped.emit(path)

    def accept_text(self, text: str) -> None:
        if not text.strip():
            self.rejected.emit("The dropped text is empty")
            return
        self._say("Queued the text")
        self.textDropped.emit(text)

    def accept_mime(self, mime: QMimeData) -> bool:
        """Queue what ``mime`` carries (files win over text); False if nothing usable."""
        if mime.hasUrls():
            urls: list[QUrl] = mime.urls()
            local = [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
            for url in urls:
                if not url.isLocalFile():
                    self.rejected.emit(f"{url.toString()} is not a file on this computer")
            self.accept_files(local)
            return bool(local)
        if mime.hasText():
            self.accept_text(mime.text())
            return True
        return False

    # -- keyboard equivalents -------------------------------------------------------------------

    def choose_file(self) -> None:
        """Open a file dialog; the chosen files are queued. Not modal: the app goes on."""
        if self._dialog is None:
            dialog = QFileDialog(self, "Read a file aloud")
            dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
            dialog.setNameFilters(FILE_FILTERS)
            dialog.filesSelected.connect(lambda names: self.accept_files([Path(n) for n in names]))
            self._dialog = dialog
        self.show_and_raise()
        self._dialog.open()

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self.accept_mime(mime):
            self.rejected.emit("The clipboard has no text")

    def show_and_raise(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    # -- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasText():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        _LOG.debug("Dropped: %s", event.mimeData().formats())
        if self.accept_mime(event.mimeData()):
            event.acceptProposedAction()

    def _say(self, message: str) -> None:
        self.status.setText(message)
