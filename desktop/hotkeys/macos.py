"""Global hotkeys on macOS: Carbon ``RegisterEventHotKey``, through ctypes.

Carbon hot keys are the one global-hotkey API on macOS that needs no accessibility permission:
the system delivers only the registered combinations, as ``kEventHotKeyPressed`` events, to a
handler installed on the application's event target; Qt's Cocoa event loop runs it on the
main thread. Registering with ``kEventHotKeyExclusive`` makes a combination another
application holds fail with ``eventHotKeyExistsErr``.

Modifiers map literally: Ctrl is Control, Alt is Option, Meta is Command. Keys are the
US-layout key positions (``kVK_ANSI_…``), which is how Carbon hot keys are defined.

The ctypes calls exist only on macOS; the mapping functions are importable (and tested)
everywhere.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from .base import Hotkey, HotkeyUnavailableError, Modifier, NoHotkeyBackendError, run_callback

CMD_KEY = 1 << 8
SHIFT_KEY = 1 << 9
OPTION_KEY = 1 << 11
CONTROL_KEY = 1 << 12

_CARBON = "/System/Library/Frameworks/Carbon.framework/Carbon"
_SIGNATURE = int.from_bytes(b"VxTr", "big")
"""Our ``OSType`` in every ``EventHotKeyID``."""
_K_EVENT_CLASS_KEYBOARD = int.from_bytes(b"keyb", "big")
_K_EVENT_HOT_KEY_PRESSED = 5
_K_EVENT_PARAM_DIRECT_OBJECT = int.from_bytes(b"----", "big")
_TYPE_EVENT_HOT_KEY_ID = int.from_bytes(b"hkid", "big")
_K_EVENT_HOT_KEY_EXCLUSIVE = 1 << 0
_EVENT_HOT_KEY_EXISTS_ERR = -9878
_EVENT_NOT_HANDLED_ERR = -9874

_MODIFIER_FLAGS = {
    Modifier.CTRL: CONTROL_KEY,
    Modifier.ALT: OPTION_KEY,
    Modifier.SHIFT: SHIFT_KEY,
    Modifier.META: CMD_KEY,
}


def carbon_modifiers(modifiers: Modifier) -> int:
    """The Carbon modifier mask of ``modifiers``."""
    mask = 0
    for modifier, flag in _MODIFIER_FLAGS.items():
        if modifiers & modifier:
            mask |= flag
    return mask


def carbon_key_code(hotkey: Hotkey) -> int:
    """The ``kVK_…`` virtual key code of the hotkey's key."""
    code = hotkey.codes.macos
    if code is None:
        raise HotkeyUnavailableError(str(hotkey), "uses a key Mac keyboards do not have")
    return code


class _EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


class _EventHotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class MacHotkeyBackend:
    """Global hotkeys through Carbon hot keys; see the module docstring."""

    name = "macos"

    def __init__(self) -> None:
        if sys.platform != "darwin":
            raise NoHotkeyBackendError("Carbon hot keys exist on macOS only")
        try:
            carbon: Any = ctypes.CDLL(_CARBON)
        except OSError as exc:
            raise NoHotkeyBackendError(f"the Carbon framework could not be loaded ({exc})") from exc
        self._carbon = carbon
        carbon.GetApplicationEventTarget.restype = ctypes.c_void_p
        carbon.InstallEventHandler.argtypes = [
            ctypes.c_void_p,
            _HANDLER,
            ctypes.c_ulong,
            ctypes.POINTER(_EventTypeSpec),
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        carbon.RegisterEventHotKey.argtypes = [
            ctypes.c_uint32,
            ctypes.c_uint32,
            _EventHotKeyID,
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        carbon.UnregisterEventHotKey.argtypes = [ctypes.c_void_p]
        carbon.RemoveEventHandler.argtypes = [ctypes.c_void_p]
        carbon.GetEventParameter.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_uint32,
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._target = carbon.GetApplicationEventTarget()
        self._handler = _HANDLER(self._on_event)  # kept alive as long as Carbon may call it
        spec = _EventTypeSpec(_K_EVENT_CLASS_KEYBOARD, _K_EVENT_HOT_KEY_PRESSED)
        self._handler_ref = ctypes.c_void_p()
        status = carbon.InstallEventHandler(
            self._target,
            self._handler,
            1,
            ctypes.byref(spec),
            None,
            ctypes.byref(self._handler_ref),
        )
        if status != 0:
            raise NoHotkeyBackendError(f"Carbon refused the hot key handler (status {status})")
        self._registered: dict[int, tuple[Hotkey, Callable[[], None], ctypes.c_void_p]] = {}
        self._next_id = 1
        self._closed = False

    def register(self, combo: str, callback: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError("this hotkey backend is closed")
        hotkey = Hotkey.parse(combo)
        if any(known == hotkey for known, _, _ in self._registered.values()):
            raise HotkeyUnavailableError(str(hotkey), "is already used for another VoxTray action")
        hotkey_id = self._next_id
        ref = ctypes.c_void_p()
        status = self._carbon.RegisterEventHotKey(
            carbon_key_code(hotkey),
            carbon_modifiers(hotkey.modifiers),
            _EventHotKeyID(_SIGNATURE, hotkey_id),
            self._target,
            _K_EVENT_HOT_KEY_EXCLUSIVE,
            ctypes.byref(ref),
        )
        if status == _EVENT_HOT_KEY_EXISTS_ERR:
            raise HotkeyUnavailableError(str(hotkey), "is already taken by another application")
        if status != 0:
            raise HotkeyUnavailableError(str(hotkey), f"was refused by macOS (status {status})")
        self._next_id += 1
        self._registered[hotkey_id] = (hotkey, callback, ref)

    def unregister_all(self) -> None:
        for _, _, ref in self._registered.values():
            self._carbon.UnregisterEventHotKey(ref)
        self._registered.clear()

    def close(self) -> None:
        if self._closed:
            return
        self.unregister_all()
        self._carbon.RemoveEventHandler(self._handler_ref)
        self._closed = True

    def _on_event(self, _call: int | None, event: int | None, _data: int | None) -> int:
        hotkey_id = _EventHotKeyID()
        status = self._carbon.GetEventParameter(
            event,
            _K_EVENT_PARAM_DIRECT_OBJECT,
            _TYPE_EVENT_HOT_KEY_ID,
            None,
            ctypes.sizeof(hotkey_id),
            None,
            ctypes.byref(hotkey_id),
        )
        if status != 0 or hotkey_id.signature != _SIGNATURE:
            return _EVENT_NOT_HANDLED_ERR
        found = self._registered.get(hotkey_id.id)
        if found is None:
            return _EVENT_NOT_HANDLED_ERR
        run_callback(found[0], found[1])
        return 0
