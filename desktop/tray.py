"""The tray icon: its look says idle, speaking, paused or error; its menu drives the app.

The icon only reports what the user asked for through signals; the app decides what they do.
The queue submenu is rebuilt each time the menu opens, from the narrator's queue, so it is
never stale and costs nothing while the menu is closed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QRect, Signal, SignalInstance
from PySide6.QtGui import QAction, QActionGroup, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon
from voxtray.core.model import Voice, VoiceRef
from voxtray.core.narrator import QueuedItem

from .bridge import TrayState
from .notices import Level, Notice

SPEEDS = (0.75, 1.0, 1.25, 1.5, 2.0)

_TOOLTIPS = {
    TrayState.IDLE: "VoxTray — idle",
    TrayState.SPEAKING: "VoxTray — speaking",
    TrayState.PAUSED: "VoxTray — paused",
    TrayState.ERROR: "VoxTray — something went wrong",
}


def icons_dir() -> Path:
    """``resources/icons``: beside the packages in a source tree or a frozen app."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources" / "icons"
    return Path(__file__).resolve().parent.parent / "resources" / "icons"


def state_icon(state: TrayState) -> QIcon:
    return QIcon(str(icons_dir() / f"voxtray-{state.value}.svg"))


class TrayIcon(QObject):
    """The ``QSystemTrayIcon`` with VoxTray's menu. Signals say what the user chose."""

    readClipboard = Signal()
    readSelection = Signal()
    pauseToggled = Signal()
    skip = Signal()
    move = Signal(str, str)  # "skip" or "rewind", and a TextUnit value
    stop = Signal()
    cancel = Signal(int)  # request id
    voiceChosen = Signal(object)  # VoiceRef
    speedChosen = Signal(float)
    openFile = Signal()
    exportFile = Signal()
    cancelExport = Signal()
    showDropWindow = Signal()
    showStats = Signal()
    showReader = Signal()
    showSettings = Signal()
    quit = Signal()
    voicesChanged = Signal()  # Voice ▸ was filled

    def __init__(
        self, queue: Callable[[], list[QueuedItem]], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._queue = queue
        self._icons = {state: state_icon(state) for state in TrayState}
        self._state = TrayState.IDLE
        self._export = ""  # how far an export is, as the menu shows it; "" when none runs
        self._tray = QSystemTrayIcon(self._icons[TrayState.IDLE], self)
        self._tray.setToolTip(_TOOLTIPS[TrayState.IDLE])
        self._tray.activated.connect(self._activated)
        self.menu = QMenu()
        self.menu.setAccessibleName("VoxTray menu")
        self.menu.aboutToShow.connect(self._refresh_queue)
        self._build()
        self._tray.setContextMenu(self.menu)

    # -- what the app tells the icon ----------------------------------------------------------

    @property
    def state(self) -> TrayState:
        return self._state

    def set_state(self, state: TrayState) -> None:
        self._state = state
        self._tray.setIcon(self._icons[state])
        self._tray.setToolTip(self._tooltip())
        self.pause_action.setText("&Resume" if state is TrayState.PAUSED else "&Pause")

    def set_export(self, text: str) -> None:
        """Show an export's progress ("Exporting book.epub — 42 %") in the menu entry and the
        tooltip; ``""``: no export runs, the entry offers one again."""
        self._export = text
        # The entry shows the progress and cannot start a second export meanwhile.
        self.export_action.setText(text.replace("&", "&&") if text else "E&xport file…")
        self.export_action.setEnabled(not text)
        self.cancel_export_action.setVisible(bool(text))
        self._tray.setToolTip(self._tooltip())

    def tooltip(self) -> str:
        return self._tray.toolTip()

    def _tooltip(self) -> str:
        state = _TOOLTIPS[self._state]
        return f"{state}\n{self._export}" if self._export else state

    def set_voices(self, voices: Sequence[Voice], current: VoiceRef) -> None:
        """Fill Voice ▸ with one section per provider; ``current`` is checked."""
        menu = self.voice_menu
        menu.clear()
        self._voice_group = QActionGroup(self)
        self._voice_group.setExclusive(True)
        providers = sorted({voice.provider for voice in voices})
        for provider in providers:
            menu.addSection(provider)
            for voice in (v for v in voices if v.provider == provider):
                ref = VoiceRef(voice.provider, voice.id)
                action = QAction(f"{voice.name} ({voice.language})", menu)
                action.setCheckable(True)
                action.setData(ref)
                action.setChecked(_same_voice(ref, current))
                action.triggered.connect(lambda _=False, r=ref: self.voiceChosen.emit(r))
                self._voice_group.addAction(action)
                menu.addAction(action)
        if not voices:
            empty = menu.addAction("No voices found")
            empty.setEnabled(False)
        self.voicesChanged.emit()

    def set_current_voice(self, current: VoiceRef) -> None:
        for action in self.voice_menu.actions():
            ref = action.data()
            if isinstance(ref, VoiceRef):
                action.setChecked(_same_voice(ref, current))

    def set_speed(self, rate: float) -> None:
        for action in self.speed_menu.actions():
            action.setChecked(abs(float(action.data()) - rate) < 1e-6)

    def show(self) -> None:
        self._tray.show()

    def hide(self) -> None:
        self._tray.hide()

    def is_visible(self) -> bool:
        return self._tray.isVisible()

    def geometry(self) -> QRect:
        """Where the icon is on screen (empty when no tray host embeds it)."""
        return self._tray.geometry()

    def show_notice(self, notice: Notice) -> None:
        icon = {
            Level.INFO: QSystemTrayIcon.MessageIcon.Information,
            Level.WARNING: QSystemTrayIcon.MessageIcon.Warning,
            Level.ERROR: QSystemTrayIcon.MessageIcon.Critical,
        }[notice.level]
        self._tray.showMessage(notice.title, notice.message, icon, 8000)

    # -- the menu -----------------------------------------------------------------------------

    def _build(self) -> None:
        menu = self.menu
        self.read_clipboard_action = self._action("Read &clipboard", self.readClipboard)
        self.read_selection_action = self._action("Read s&election", self.readSelection)
        menu.addSeparator()
        self.pause_action = self._action("&Pause", self.pauseToggled)
        self.rewind_action = self.menu.addAction("&Back a sentence")
        self.rewind_action.triggered.connect(lambda _=False: self.move.emit("rewind", "sentence"))
        self.skip_action = self._action("S&kip sentence", self.skip)
        self.go_menu = menu.addMenu("&Go to")
        self.go_menu.setAccessibleName("Go to: move by paragraph or chapter")
        for text, command, unit in (
            ("&Previous paragraph", "rewind", "paragraph"),
            ("&Next paragraph", "skip", "paragraph"),
            ("Previous &chapter", "rewind", "chapter"),
            ("Next c&hapter", "skip", "chapter"),
        ):
            action = self.go_menu.addAction(text)
            action.triggered.connect(lambda _=False, c=command, u=unit: self.move.emit(c, u))
        self.stop_action = self._action("&Stop", self.stop)
        self.queue_menu = menu.addMenu("&Queue")
        self.queue_menu.setAccessibleName("Queue: choose an item to cancel it")
        menu.addSeparator()
        self.voice_menu = menu.addMenu("&Voice")
        self.voice_menu.setAccessibleName("Voice")
        loading = self.voice_menu.addAction("Looking for voices…")
        loading.setEnabled(False)
        self.speed_menu = menu.addMenu("Spee&d")
        self.speed_menu.setAccessibleName("Speed")
        speeds = QActionGroup(self)
        for rate in SPEEDS:
            action = QAction(f"{rate:g}×", self.speed_menu)
            action.setCheckable(True)
            action.setData(rate)
            action.setChecked(rate == 1.0)
            action.triggered.connect(lambda _=False, r=rate: self.speedChosen.emit(r))
            speeds.addAction(action)
            self.speed_menu.addAction(action)
        menu.addSeparator()
        self.open_file_action = self._action("&Open file…", self.openFile)
        self.export_action = self._action("E&xport file…", self.exportFile)
        self.cancel_export_action = self._action("Cancel expor&t", self.cancelExport)
        self.cancel_export_action.setVisible(False)
        self.drop_action = self._action("D&rop window…", self.showDropWindow)
        self.reader_action = self._action("Reading &window…", self.showReader)
        self.stats_action = self._action("St&ats…", self.showStats)
        self.settings_action = self._action("Setti&ngs…", self.showSettings)
        menu.addSeparator()
        self.quit_action = self._action("Q&uit", self.quit)
        self._refresh_queue()

    def _action(self, text: str, signal: SignalInstance) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda _=False: signal.emit())
        return action

    def _refresh_queue(self) -> None:
        menu = self.queue_menu
        menu.clear()
        items = self._queue()
        menu.setTitle(f"&Queue ({len(items)})" if items else "&Queue")
        for item in items:
            prefix = "Stop playing" if item.playing else "Cancel"
            action = menu.addAction(f"{prefix}: {item.label}")
            action.setData(int(item.request_id))
            action.triggered.connect(
                lambda _=False, rid=int(item.request_id): self.cancel.emit(rid)
            )
        if not items:
            empty = menu.addAction("Nothing queued")
            empty.setEnabled(False)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.showDropWindow.emit()


def _same_voice(a: VoiceRef, b: VoiceRef) -> bool:
    return a.provider == b.provider and a.voice_id == b.voice_id
