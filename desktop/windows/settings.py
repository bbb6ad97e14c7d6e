"""The settings dialog: voice, output, hotkeys, the ElevenLabs key, behaviour.

It edits a :class:`Settings` value and, on OK, emits :attr:`SettingsDialog.saved` with the new
one; saving it to disk and applying it is the caller's business. Two things are applied here
because they live outside the settings file: the ElevenLabs key goes to the system keyring
through ``save_key`` (it is never shown, logged or put in the settings) and leaves it through
``delete_key``, and "start at login" writes the platform's autostart entry (:mod:`..autostart`).

The callables that talk to the engine are coroutines (listing voices, checking the key). Each
runs as a task the dialog owns: it is cancelled when the dialog closes, and
:meth:`SettingsDialog.settle` waits for the ones running.

Keyboard: one page, top to bottom, every control reachable with Tab in reading order and
labelled with an accessible name. A hotkey field records the next combination pressed in it;
plain Tab and Shift+Tab still move on, Escape keeps the old combination, Backspace or Delete
turn the hotkey off.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from voxtray.core.audio.output import OutputDevice
from voxtray.core.model import Voice
from voxtray.core.providers.elevenlabs.api import DEFAULT_MODEL_ID, MODEL_CHARACTER_LIMITS
from voxtray.core.settings import Settings

from ..autostart import AutostartError, set_start_at_login
from ..hotkeys.base import Hotkey, InvalidHotkeyError, Modifier, modifiers_text

_log = logging.getLogger(__name__)

_SAVE_KEY = "voxtray-save-key"
"""The name of the task that stores a key: let finish when the dialog closes."""
_REMOVE_KEY = "voxtray-remove-key"
"""The name of the task that deletes the key: let finish too (it was asked for)."""

PROVIDERS = {"piper": "Local voice (Piper)", "elevenlabs": "ElevenLabs (cloud)"}

HOTKEY_ACTIONS = {
    "read_now": "Read now",
    "read_next": "Read next",
    "stop": "Stop",
    "pause": "Pause / resume",
    "skip": "Skip sentence",
    "rewind": "Back a sentence",
}
"""``[hotkeys]`` fields, in the order the dialog shows them, with their labels."""


def _qt_key_names() -> dict[int, str]:
    names: dict[int, str] = {}
    for offset in range(26):
        names[Qt.Key.Key_A.value + offset] = chr(ord("A") + offset)
    for offset in range(10):
        names[Qt.Key.Key_0.value + offset] = str(offset)
    for number in range(1, 25):
        names[getattr(Qt.Key, f"Key_F{number}").value] = f"F{number}"
    for key, name in (
        (Qt.Key.Key_Space, "Space"),
        (Qt.Key.Key_Tab, "Tab"),
        (Qt.Key.Key_Backtab, "Tab"),
        (Qt.Key.Key_Return, "Return"),
        (Qt.Key.Key_Enter, "Return"),
        (Qt.Key.Key_Escape, "Escape"),
        (Qt.Key.Key_Backspace, "Backspace"),
        (Qt.Key.Key_Insert, "Insert"),
        (Qt.Key.Key_Delete, "Delete"),
        (Qt.Key.Key_Home, "Home"),
        (Qt.Key.Key_End, "End"),
        (Qt.Key.Key_PageUp, "PageUp"),
        (Qt.Key.Key_PageDown, "PageDown"),
        (Qt.Key.Key_Left, "Left"),
        (Qt.Key.Key_Up, "Up"),
        (Qt.Key.Key_Right, "Right"),
        (Qt.Key.Key_Down, "Down"),
        (Qt.Key.Key_Pause, "Pause"),
        (Qt.Key.Key_Print, "Print"),
    ):
        names[key.value] = name
    return names


_QT_KEYS = _qt_key_names()
_MODIFIER_KEYS = frozenset(
    key.value
    for key in (
        Qt.Key.Key_Control,
        Qt.Key.Key_Alt,
        Qt.Key.Key_AltGr,
        Qt.Key.Key_Shift,
        Qt.Key.Key_Meta,
        Qt.Key.Key_Super_L,
        Qt.Key.Key_Super_R,
        Qt.Key.Key_Hyper_L,
        Qt.Key.Key_Hyper_R,
        Qt.Key.Key_CapsLock,
        Qt.Key.Key_NumLock,
        Qt.Key.Key_ScrollLock,
    )
)


_MODIFIER_OF_KEY = {
    Qt.Key.Key_Control.value: Modifier.CTRL,
    Qt.Key.Key_Alt.value: Modifier.ALT,
    Qt.Key.Key_Shift.value: Modifier.SHIFT,
    Qt.Key.Key_Meta.value: Modifier.META,
    Qt.Key.Key_Super_L.value: Modifier.META,
    Qt.Key.Key_Super_R.value: Modifier.META,
}
if sys.platform == "darwin":  # Qt calls Command "Control" and Control "Meta" there
    _MODIFIER_OF_KEY[Qt.Key.Key_Control.value] = Modifier.META
    _MODIFIER_OF_KEY[Qt.Key.Key_Meta.value] = Modifier.CTRL


def modifiers_from_qt(state: Qt.KeyboardModifier, *, platform: str | None = None) -> Modifier:
    """Qt's modifier state as hotkey modifiers.

    On macOS Qt reports Command as Control and Control as Meta; the hotkeys name the keys as
    printed (Ctrl is Control, Meta is Command), so the two are swapped back there.
    """
    mac = (sys.platform if platform is None else platform) == "darwin"
    ctrl, meta = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.MetaModifier
    if mac:
        ctrl, meta = meta, ctrl
    modifiers = Modifier.NONE
    for flag, modifier in (
        (ctrl, Modifier.CTRL),
        (Qt.KeyboardModifier.AltModifier, Modifier.ALT),
        (Qt.KeyboardModifier.ShiftModifier, Modifier.SHIFT),
        (meta, Modifier.META),
    ):
        if state & flag:
            modifiers |= modifier
    return modifiers


def hotkey_from_qt(key: int, state: Qt.KeyboardModifier) -> Hotkey:
    """The hotkey a key press makes; :class:`InvalidHotkeyError` if it cannot be one."""
    name = _QT_KEYS.get(key)
    if name is None:
        raise InvalidHotkeyError("that key cannot be used in a hotkey")
    return Hotkey(modifiers_from_qt(state), name)


class HotkeyEdit(QLineEdit):
    """Records one key combination pressed while it has the focus, and shows it.

    :attr:`hotkey_text` is the canonical combination, ``""`` when the hotkey is off.
    :attr:`problem` carries a sentence when a pressed combination cannot be a hotkey.
    """

    changed = Signal(str)
    problem = Signal(str)

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setPlaceholderText("Off")
        self.setToolTip(
            "Press the combination to use. Backspace or Delete: off. Escape: close, unchanged."
        )
        self._hotkey_text = ""
        self.set_hotkey_text(text)

    @property
    def hotkey_text(self) -> str:
        return self._hotkey_text

    def set_hotkey_text(self, text: str) -> None:
        """Show ``text`` (canonicalised when it parses; kept as written when it does not, so
        that the user sees what the settings file says)."""
        try:
            shown = str(Hotkey.parse(text)) if text.strip() else ""
        except InvalidHotkeyError:
            shown = text.strip()
        if shown != self._hotkey_text:
            self._hotkey_text = shown
            self.changed.emit(shown)
        self.setText(shown)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        state = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key in _MODIFIER_KEYS:
            # Platforms differ on whether a modifier's own press is in the state: add it.
            modifiers = modifiers_from_qt(state) | _MODIFIER_OF_KEY.get(key, Modifier.NONE)
            self.setText(modifiers_text(modifiers) + "+…" if modifiers else self._hotkey_text)
            event.accept()
            return
        if state == Qt.KeyboardModifier.NoModifier:
            if key == Qt.Key.Key_Escape:
                if self.text() == self._hotkey_text:
                    event.ignore()  # nothing being recorded: Escape closes the dialog
                    return
                self.setText(self._hotkey_text)
                event.accept()
                return
            if key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
                self.set_hotkey_text("")
                event.accept()
                return
        try:
            hotkey = hotkey_from_qt(key, state)
        except InvalidHotkeyError as exc:
            self.setText(self._hotkey_text)
            self.problem.emit(str(exc))
            event.accept()
            return
        self.set_hotkey_text(str(hotkey))
        self.problem.emit("")
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() in _MODIFIER_KEYS:
            self.setText(self._hotkey_text)
        event.accept()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.setText(self._hotkey_text)
        super().focusOutEvent(event)


class SettingsDialog(QDialog):
    """The settings dialog; see the module docstring."""

    saved = Signal(object)
    """The new :class:`Settings`, emitted when OK is pressed and everything is valid."""

    def __init__(
        self,
        settings: Settings,
        *,
        voices: Callable[[str], Awaitable[list[Voice]]] | None = None,
        devices: Callable[[], list[OutputDevice]] | None = None,
        key_status: Callable[[], Awaitable[str]] | None = None,
        save_key: Callable[[str], Awaitable[None]] | None = None,
        delete_key: Callable[[], Awaitable[bool]] | None = None,
        stored_key: Callable[[], Awaitable[str | None]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._stored_key = stored_key
        self._settings = settings
        self._voices = voices
        self._save_key = save_key
        self._delete_key = delete_key
        self._key_status = key_status
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setWindowTitle("VoxTray settings")
        self.setAccessibleName("VoxTray settings")

        # Voice.
        self.provider = QComboBox()
        for provider_id, title in PROVIDERS.items():
            self.provider.addItem(title, provider_id)
        _select(self.provider, settings.voice.provider)
        self.voice = QComboBox()
        self.voice.setEditable(True)
        self.voice.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.voice.setToolTip("A voice id or name; empty for the provider's default voice")
        self.voice.setEditText(settings.voice.voice)
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model.addItems(list(MODEL_CHARACTER_LIMITS))
        self.model.setEditText(settings.elevenlabs.model or DEFAULT_MODEL_ID)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.25, 4.0)
        self.speed.setSingleStep(0.05)
        self.speed.setDecimals(2)
        self.speed.setSuffix("×")
        self.speed.setValue(settings.voice.rate)

        # Output.
        self.volume = QSpinBox()
        self.volume.setRange(0, 150)
        self.volume.setSuffix(" %")
        self.volume.setValue(round(settings.audio.volume * 100))
        self.device = QComboBox()
        self.device.addItem("System default", "")
        for device in devices() if devices is not None else []:
            label = f"{device.name} ({device.hostapi})" if device.hostapi else device.name
            self.device.addItem(label, device.name)
        if settings.audio.device and self.device.findData(settings.audio.device) < 0:
            self.device.addItem(f"{settings.audio.device} (not connected)", settings.audio.device)
        _select(self.device, settings.audio.device)
        self.latency = QSpinBox()
        self.latency.setRange(0, 1000)
        self.latency.setSingleStep(10)
        self.latency.setSuffix(" ms")
        self.latency.setToolTip(
            "Sound the output holds: more is safer on a busy computer, less stops faster"
        )
        self.latency.setValue(round(settings.audio.latency * 1000))

        # Hotkeys.
        self.hotkeys: dict[str, HotkeyEdit] = {}
        self._hotkey_clear: dict[str, QPushButton] = {}
        for action, title in HOTKEY_ACTIONS.items():
            edit = HotkeyEdit(getattr(settings.hotkeys, action))
            edit.setAccessibleName(f"Hotkey: {title}")
            edit.setAccessibleDescription("Press the key combination to use")
            edit.problem.connect(self._show_hotkey_problem)
            clear = QPushButton("Turn off")
            clear.setAccessibleName(f"Turn off the hotkey {title}")
            clear.clicked.connect(lambda _=False, e=edit: e.set_hotkey_text(""))
            self.hotkeys[action] = edit
            self._hotkey_clear[action] = clear
        self.hotkey_problem = QLabel()
        self.hotkey_problem.setAccessibleName("Hotkey problem")
        self.hotkey_problem.setWordWrap(True)
        self.hotkey_problem.setVisible(False)
        self.read_now_source = QComboBox()
        self.read_now_source.addItem("What was copied (clipboard)", "clipboard")
        self.read_now_source.addItem("What is selected (primary selection)", "selection")
        _select(self.read_now_source, settings.hotkeys.read_now_source)
        self.while_playing = QComboBox()
        self.while_playing.addItem("Interrupt it and read now", "interrupt")
        self.while_playing.addItem("Queue it after what plays", "queue")
        _select(self.while_playing, settings.hotkeys.read_now_while_playing)

        # ElevenLabs key.
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("Unchanged (kept in the system keyring)")
        self.api_key.setAccessibleName("ElevenLabs API key")
        self.api_key.setAccessibleDescription(
            "Type a new key to replace the stored one; it is never shown"
        )
        self.api_key.setEnabled(save_key is not None)
        self.test_key = QPushButton("Test")
        self.test_key.setAccessibleName("Test the ElevenLabs key")
        self.test_key.setToolTip("Saves a newly typed key, then asks ElevenLabs about it")
        self.test_key.setEnabled(key_status is not None)
        self.test_key.clicked.connect(self._test_key)
        self.forget_key = QPushButton("Remove")
        self.forget_key.setAccessibleName("Remove the stored ElevenLabs key")
        self.forget_key.setToolTip("Deletes the key from the system keyring")
        self.forget_key.setVisible(delete_key is not None)
        self.forget_key.clicked.connect(self._forget_key)
        self.key_answer = QLabel("")
        self.key_answer.setAccessibleName("ElevenLabs key status")
        self.key_answer.setWordWrap(True)
        self.key_answer.setTextFormat(Qt.TextFormat.PlainText)

        # Behaviour.
        self.start_at_login = QCheckBox("Start VoxTray when I log in")
        self.start_at_login.setChecked(settings.app.start_at_login)

        self.status = QLabel("")
        self.status.setAccessibleName("Settings status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button.setAccessibleName("Save the settings")
        self.cancel_button.setAccessibleName("Close without saving")

        self._lay_out()
        self.provider.currentIndexChanged.connect(self._provider_changed)
        self._provider_changed()

    # Public.

    def controls(self) -> list[QWidget]:
        """Every control of the dialog, in tab order."""
        chain: list[QWidget] = [self.provider, self.voice, self.model, self.speed]
        chain += [self.volume, self.device, self.latency]
        for action in HOTKEY_ACTIONS:
            chain += [self.hotkeys[action], self._hotkey_clear[action]]
        chain += [self.read_now_source, self.while_playing]
        chain += [self.api_key, self.test_key]
        if self._delete_key is not None:
            chain.append(self.forget_key)
        chain.append(self.start_at_login)
        chain += [self.ok_button, self.cancel_button]
        return chain

    def current_settings(self) -> Settings:
        """The settings as the dialog shows them. Raises ValueError with a sentence for the
        user when something is not valid (a hotkey, two actions on one hotkey)."""
        hotkeys: dict[str, str] = {}
        used: dict[str, str] = {}
        for action, edit in self.hotkeys.items():
            text = edit.hotkey_text
            title = HOTKEY_ACTIONS[action]
            if text:
                try:
                    text = str(Hotkey.parse(text))
                except InvalidHotkeyError as exc:
                    raise ValueError(f"The hotkey for {title}: {exc}.") from exc
                if text in used:
                    raise ValueError(f"{text} is set for both {used[text]} and {title}.")
                used[text] = title
            hotkeys[action] = text
        old = self._settings
        provider = str(self.provider.currentData() or old.voice.provider)
        return old.replace(
            voice=old.voice.replace(
                provider=provider,
                voice=self._voice_id(),
                rate=round(self.speed.value(), 2),
            ),
            audio=old.audio.replace(
                volume=self.volume.value() / 100,
                device=str(self.device.currentData() or ""),
                latency=self._latency_seconds(),
            ),
            elevenlabs=old.elevenlabs.replace(
                model=self.model.currentText().strip() or DEFAULT_MODEL_ID
            ),
            hotkeys=old.hotkeys.replace(
                **hotkeys,
                read_now_source=str(self.read_now_source.currentData()),
                read_now_while_playing=str(self.while_playing.currentData()),
            ),
            app=old.app.replace(start_at_login=self.start_at_login.isChecked()),
        )

    async def settle(self) -> None:
        """Wait until the tasks the dialog started (voices, key test, key save) are done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # QDialog.

    def accept(self) -> None:
        try:
            new = self.current_settings()
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        if new.app.start_at_login != self._settings.app.start_at_login:
            try:
                set_start_at_login(new.app.start_at_login)
            except AutostartError as exc:
                self.status.setText(str(exc))
                return
        typed_key = self.api_key.text().strip()
        self.api_key.clear()
        if typed_key and self._save_key is not None:
            self._start(self._store_key(typed_key), _SAVE_KEY)
        self._settings = new
        self.saved.emit(new)
        super().accept()

    def done(self, result: int) -> None:
        # A pending voice list or key test is of no use once the dialog is gone; a key being
        # saved or removed is let finish (it was asked for).
        for task in list(self._tasks):
            if task.get_name() not in (_SAVE_KEY, _REMOVE_KEY):
                task.cancel()
        super().done(result)

    # Behaviour.

    def _provider_changed(self) -> None:
        cloud = self.provider.currentData() == "elevenlabs"
        self.model.setEnabled(cloud)
        self.api_key.setEnabled(cloud and self._save_key is not None)
        self.test_key.setEnabled(cloud and self._key_status is not None)
        self.forget_key.setEnabled(cloud and self._delete_key is not None)
        if self._voices is not None:
            self._start(self._load_voices(str(self.provider.currentData())), "voxtray-voices")
        if cloud:
            self._show_stored_key()

    async def _load_voices(self, provider: str) -> None:
        assert self._voices is not None
        typed = self.voice.currentText()
        try:
            found = await self._voices(provider)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            title = PROVIDERS.get(provider, provider)
            self.status.setText(f"The voices of {title} could not be listed ({exc}).")
            return
        if self.provider.currentData() != provider:
            return  # the user picked another provider meanwhile
        self.voice.clear()
        self.voice.addItem("Default voice", "")
        for voice in sorted(found, key=lambda v: (v.language, v.name)):
            self.voice.addItem(f"{voice.name} · {voice.language}", voice.id)
        index = self.voice.findData(typed)
        if index < 0 and provider == self._settings.voice.provider:
            index = self.voice.findData(self._settings.voice.voice)
        if index >= 0:
            self.voice.setCurrentIndex(index)
        elif typed and provider == self._settings.voice.provider:
            self.voice.setEditText(typed)
        else:
            self.voice.setCurrentIndex(0)

    def _latency_seconds(self) -> float:
        shown = self.latency.value()
        old = self._settings.audio.latency
        return old if shown == round(old * 1000) else shown / 1000  # a 0.1234 s file stays so

    def _voice_id(self) -> str:
        text = self.voice.currentText()
        index = self.voice.currentIndex()
        if index >= 0 and self.voice.itemText(index) == text:
            return str(self.voice.itemData(index) or "")
        return text.strip()

    def _test_key(self) -> None:
        if self._key_status is None:
            return
        self.test_key.setEnabled(False)
        self.key_answer.setText("Checking the key…")
        typed = self.api_key.text().strip()
        self.api_key.clear()
        self._start(self._check_key(typed), "voxtray-key-test")

    async def _check_key(self, typed: str) -> None:
        assert self._key_status is not None
        try:
            if typed and self._save_key is not None:
                await self._save_key(typed)
            answer = await self._key_status()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The message of a keyring or network error never holds the key itself.
            answer = f"The key could not be checked ({type(exc).__name__}: {exc})."
        finally:
            self.test_key.setEnabled(self.provider.currentData() == "elevenlabs")
        self.key_answer.setText(answer)
        if typed:
            self._show_stored_key()

    def _forget_key(self) -> None:
        if self._delete_key is None:
            return
        self.api_key.clear()
        self.key_answer.setText("Removing the key…")
        self._start(self._remove_key(), _REMOVE_KEY)

    async def _remove_key(self) -> None:
        assert self._delete_key is not None
        try:
            removed = await self._delete_key()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a keyring error; its message never holds the key
            self.key_answer.setText(f"The key could not be removed ({type(exc).__name__}: {exc}).")
            return
        self.key_answer.setText(
            "The stored key was removed." if removed else "No key was stored in the keyring."
        )
        self._show_stored_key()

    def _show_stored_key(self) -> None:
        """Say in the key field which key is stored, masked (``••••abcd``): the user can tell
        whether one is there, and which, without it ever being shown. Only once the cloud
        voice is chosen: reading the keyring may ask the user to unlock it, which nobody
        opening the settings for a hotkey should have to do."""
        if self._stored_key is not None and self.provider.currentData() == "elevenlabs":
            self._start(self._read_stored_key(), "voxtray-stored-key")

    async def _read_stored_key(self) -> None:
        assert self._stored_key is not None
        try:
            masked = await self._stored_key()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # no keyring here: say so where the key would be
            self.api_key.setPlaceholderText(f"The keyring cannot be read ({type(exc).__name__})")
            return
        self.api_key.setPlaceholderText(
            f"Stored key {masked} (type a new one to replace it)"
            if masked
            else "No key stored: paste your ElevenLabs API key"
        )
        self.api_key.setAccessibleDescription(
            (f"A key ending {masked[-4:]} is stored. " if masked else "No key is stored. ")
            + "Type a new key to replace it; it is never shown"
        )

    async def _store_key(self, key: str) -> None:
        assert self._save_key is not None
        try:
            await self._save_key(key)
        except Exception:
            _log.exception("The ElevenLabs key could not be saved in the keyring")

    def _show_hotkey_problem(self, text: str) -> None:
        self.hotkey_problem.setText(text[:1].upper() + text[1:] + "." if text else "")
        self.hotkey_problem.setVisible(bool(text))

    def _start(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coroutine`` as a task the dialog owns (see the module docstring).

        A newer voice list or key test replaces a running one of the same ``name``.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coroutine.close()
            self.status.setText("This needs the app's event loop, which is not running.")
            return
        if name != _SAVE_KEY:
            for task in list(self._tasks):
                if task.get_name() == name:
                    task.cancel()
        task = loop.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            _log.error("A settings task failed", exc_info=exc)

    # Layout.

    def _lay_out(self) -> None:
        voice_box = QGroupBox("Voice")
        voice_form = QFormLayout(voice_box)
        _row(voice_form, "&Provider", self.provider)
        _row(voice_form, "&Voice", self.voice)
        _row(voice_form, "&Model (ElevenLabs)", self.model)
        _row(voice_form, "&Speed", self.speed)

        output_box = QGroupBox("Output")
        output_form = QFormLayout(output_box)
        _row(output_form, "V&olume", self.volume)
        _row(output_form, "Output &device", self.device)
        _row(output_form, "Output &latency", self.latency)

        hotkey_box = QGroupBox("Global hotkeys")
        hotkey_form = QFormLayout(hotkey_box)
        for action, title in HOTKEY_ACTIONS.items():
            line = QHBoxLayout()
            line.addWidget(self.hotkeys[action], 1)
            line.addWidget(self._hotkey_clear[action])
            label = QLabel(title)
            label.setBuddy(self.hotkeys[action])
            hotkey_form.addRow(label, line)
        hotkey_form.addRow(self.hotkey_problem)
        _row(hotkey_form, "Read now &reads", self.read_now_source)
        _row(hotkey_form, "Read now while &playing", self.while_playing)

        key_box = QGroupBox("ElevenLabs")
        key_form = QFormLayout(key_box)
        key_line = QHBoxLayout()
        key_line.addWidget(self.api_key, 1)
        key_line.addWidget(self.test_key)
        key_line.addWidget(self.forget_key)
        key_label = QLabel("API &key")
        key_label.setBuddy(self.api_key)
        key_form.addRow(key_label, key_line)
        key_form.addRow(self.key_answer)

        app_box = QGroupBox("Application")
        app_layout = QVBoxLayout(app_box)
        app_layout.addWidget(self.start_at_login)
        self.start_at_login.setAccessibleName("Start VoxTray when I log in")

        page = QWidget()
        page_layout = QVBoxLayout(page)
        for box in (voice_box, output_box, hotkey_box, key_box, app_box):
            page_layout.addWidget(box)
        page_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll, 1)
        outer.addWidget(self.status)
        outer.addWidget(self.buttons)
        chain = self.controls()
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
        self.resize(560, 720)


def _row(form: QFormLayout, title: str, widget: QWidget) -> None:
    label = QLabel(title)
    label.setBuddy(widget)  # Alt+the underlined letter jumps to the field
    widget.setAccessibleName(title.replace("&", ""))
    form.addRow(label, widget)


def _select(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index < 0:
        combo.addItem(value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)
