"""Global hotkeys on Windows: ``RegisterHotKey`` and the ``WM_HOTKEY`` message, through ctypes.

Hotkeys are registered for the main thread (no window handle), so Windows posts ``WM_HOTKEY``
to the main thread's message queue, where Qt's event dispatcher hands it to native event
filters; :class:`_HotkeyFilter` picks it out there, on the main thread. ``MOD_NOREPEAT`` keeps
a held combination from firing again and again. A combination another application registered
fails with ``ERROR_HOTKEY_ALREADY_REGISTERED``.

The ctypes calls exist only on Windows; the mapping functions are importable (and tested)
everywhere.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QByteArray, QCoreApplication

from .base import Hotkey, HotkeyUnavailableError, Modifier, NoHotkeyBackendError, run_callback

MOD_ALT = 0x0001
MOD_CONTROL = 0x0002
MOD_SHIFT = 0x0004
MOD_WIN = 0x0008
MOD_NOREPEAT = 0x4000
WM_HOTKEY = 0x0312
ERROR_HOTKEY_ALREADY_REGISTERED = 1409

_MODIFIER_FLAGS = {
    Modifier.CTRL: MOD_CONTROL,
    Modifier.ALT: MOD_ALT,
    Modifier.SHIFT: MOD_SHIFT,
    Modifier.META: MOD_WIN,
}

_FIRST_ID = 0x5600
"""Hotkey ids of an application must lie in 0x0000–0xBFFF; VoxTray's start here."""


def windows_modifiers(modifiers: Modifier) -> int:
    """``fsModifiers`` for ``RegisterHotKey``, with ``MOD_NOREPEAT``."""
    flags = MOD_NOREPEAT
    for modifier, flag in _MODIFIER_FLAGS.items():
        if modifiers & modifier:
            flags |= flag
    return flags


def virtual_key(hotkey: Hotkey) -> int:
    """The virtual-key code of the hotkey's key."""
    code = hotkey.codes.windows
    if code is None:
        raise HotkeyUnavailableError(str(hotkey), "uses a key Windows has no code for")
    return code


class _HotkeyFilter(QAbstractNativeEventFilter):
    def __init__(self, on_hotkey: Callable[[int], None]) -> None:
        super().__init__()
        self._on_hotkey = on_hotkey

    def nativeEventFilter(
        self,
        eventType: QByteArray | bytes | bytearray | memoryview,  # noqa: N803 (Qt's name)
        message: int,
    ) -> Any:
        if QByteArray(eventType).data() not in (b"windows_generic_MSG", b"windows_dispatcher_MSG"):
            return False, 0
        from ctypes import wintypes

        msg = wintypes.MSG.from_address(int(message))
        if msg.message != WM_HOTKEY:
            return False, 0
        self._on_hotkey(int(msg.wParam))
        return True, 0


class WindowsHotkeyBackend:
    """Global hotkeys through ``RegisterHotKey``; see the module docstring."""

    name = "windows"

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise NoHotkeyBackendError("RegisterHotKey exists on Windows only")
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("create the QApplication before the hotkey backend")
        self._user32: Any = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined, unused-ignore]
        self._registered: dict[int, tuple[Hotkey, Callable[[], None]]] = {}
        self._next_id = _FIRST_ID
        self._filter = _HotkeyFilter(self._fire)
        app.installNativeEventFilter(self._filter)
        self._app = app
        self._closed = False

    def register(self, combo: str, callback: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError("this hotkey backend is closed")
        hotkey = Hotkey.parse(combo)
        if any(known == hotkey for known, _ in self._registered.values()):
            raise HotkeyUnavailableError(str(hotkey), "is already used for another VoxTray action")
        hotkey_id = self._next_id
        ok = self._user32.RegisterHotKey(
            None, hotkey_id, windows_modifiers(hotkey.modifiers), virtual_key(hotkey)
        )
        if not ok:
            code = ctypes.get_last_error()  # type: ignore[attr-defined, unused-ignore]
            if code == ERROR_HOTKEY_ALREADY_REGISTERED:
                raise HotkeyUnavailableError(str(hotkey), "is already taken by another application")
            raise HotkeyUnavailableError(str(hotkey), f"was refused by Windows (error {code})")
        self._next_id += 1
        self._registered[hotkey_id] = (hotkey, callback)

    def unregister_all(self) -> None:
        for hotkey_id in self._registered:
            self._user32.UnregisterHotKey(None, hotkey_id)
        self._registered.clear()

    def close(self) -> None:
        if self._closed:
            return
        self.unregister_all()
        self._app.removeNativeEventFilter(self._filter)
        self._closed = True

    def _fire(self, hotkey_id: int) -> None:
        found = self._registered.get(hotkey_id)
        if found is not None:
            run_callback(*found)
