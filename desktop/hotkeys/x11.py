"""Global hotkeys on X11: ``XGrabKey`` on the root window, through python-xlib.

The backend has its own connection to the X server, separate from Qt's, so that its grabs,
errors and events never mix with Qt's. A grab delivers only the grabbed combination and
consumes it (no other application sees it); it needs no extension (neither RECORD nor XTEST).

**Lock keys.** X compares the modifier state exactly, so Ctrl+Alt+R with Caps Lock or Num Lock
on is another combination. Each hotkey is grabbed once per combination of Caps Lock, Num Lock
and Scroll Lock; which ``ModN`` mask Num Lock and Scroll Lock use is read from the server's
modifier mapping.

**Taken combinations.** If another client already grabbed one of these variants, the server
answers ``BadAccess``. Errors arrive asynchronously, so the display is synced after grabbing:
then the error is known before :meth:`register` returns, the variants already grabbed are
released, and :class:`HotkeyUnavailableError` names the combination.

**Events** are read when the connection's socket becomes readable (a ``QSocketNotifier`` on the
main thread): no thread, no polling. python-xlib may read events into its own queue while
answering a request (``sync``), which leaves nothing on the socket to wake the notifier, so the
queue is drained after every request as well.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from Xlib import XK, X, error
from Xlib.display import Display

from .base import (
    Hotkey,
    HotkeyUnavailableError,
    Modifier,
    NoHotkeyBackendError,
    run_callback,
)

_log = logging.getLogger(__name__)

MODIFIER_MASKS: dict[Modifier, int] = {
    Modifier.CTRL: X.ControlMask,
    Modifier.ALT: X.Mod1Mask,
    Modifier.SHIFT: X.ShiftMask,
    Modifier.META: X.Mod4Mask,
}
"""X modifier masks; Alt is Mod1 and Super is Mod4 on every common keyboard map."""


def modifier_mask(modifiers: Modifier) -> int:
    """The X state mask of ``modifiers``."""
    mask = 0
    for modifier, bit in MODIFIER_MASKS.items():
        if modifiers & modifier:
            mask |= bit
    return mask


def lock_variants(lock_masks: tuple[int, ...]) -> list[int]:
    """Every combination of the lock masks (each mask or-ed in or not), 0 first."""
    masks = sorted({mask for mask in lock_masks if mask})
    variants = []
    for count in range(len(masks) + 1):
        for chosen in itertools.combinations(masks, count):
            combined = 0
            for mask in chosen:
                combined |= mask
            variants.append(combined)
    return variants


@dataclass(slots=True)
class _Grab:
    hotkey: Hotkey
    keycode: int
    mask: int
    callback: Callable[[], None]


class X11HotkeyBackend(QObject):
    """Global hotkeys through ``XGrabKey``; see the module docstring."""

    name = "x11"

    def __init__(self, display_name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        try:
            self._display: Any = Display(display_name)
        except (error.DisplayError, OSError) as exc:
            raise NoHotkeyBackendError(f"the X server could not be reached ({exc})") from exc
        self._root = self._display.screen().root
        self._grabs: list[_Grab] = []
        self._lock_masks = self._read_lock_masks()
        self._notifier = QSocketNotifier(self._display.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._closed = False

    def register(self, combo: str, callback: Callable[[], None]) -> None:
        self._check_open()
        hotkey = Hotkey.parse(combo)
        shown = str(hotkey)
        if any(grab.hotkey == hotkey for grab in self._grabs):
            raise HotkeyUnavailableError(shown, "is already used for another VoxTray action")
        keysym = XK.string_to_keysym(hotkey.codes.x11)
        keycode = self._display.keysym_to_keycode(keysym) if keysym else 0
        if not keycode:
            raise HotkeyUnavailableError(shown, "has no key on this keyboard layout")
        mask = modifier_mask(hotkey.modifiers)
        catcher = error.CatchError(error.BadAccess)
        for variant in lock_variants(self._lock_masks):
            self._root.grab_key(
                keycode, mask | variant, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher
            )
        self._display.sync()
        if catcher.get_error() is not None:
            self._ungrab(keycode, mask)
            self._display.sync()
            self._schedule_drain()
            raise HotkeyUnavailableError(shown, "is already taken by another application")
        self._grabs.append(_Grab(hotkey, keycode, mask, callback))
        self._schedule_drain()

    def unregister_all(self) -> None:
        if self._closed:
            return
        for grab in self._grabs:
            self._ungrab(grab.keycode, grab.mask)
        self._grabs.clear()
        self._display.sync()
        self._schedule_drain()

    def close(self) -> None:
        if self._closed:
            return
        self.unregister_all()
        self._closed = True
        self._notifier.setEnabled(False)
        self._notifier.activated.disconnect(self._drain)
        self._display.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this hotkey backend is closed")

    def _ungrab(self, keycode: int, mask: int) -> None:
        for variant in lock_variants(self._lock_masks):
            self._root.ungrab_key(keycode, mask | variant)

    def _read_lock_masks(self) -> tuple[int, ...]:
        """Caps Lock's mask and the ``ModN`` masks that Num Lock and Scroll Lock are on."""
        wanted = set()
        for name in ("Num_Lock", "Scroll_Lock"):
            keycode = self._display.keysym_to_keycode(XK.string_to_keysym(name))
            if keycode:
                wanted.add(keycode)
        masks = [X.LockMask]
        for index, keycodes in enumerate(self._display.get_modifier_mapping()):
            if index >= 3 and wanted.intersection(keycodes):  # 0–2: Shift, Lock, Control
                masks.append(1 << index)
        return tuple(masks)

    def _schedule_drain(self) -> None:
        # Events python-xlib queued while waiting for a reply: read them on the next turn of
        # the event loop, not inside register(), so a callback never runs re-entrantly.
        QTimer.singleShot(0, self, self._drain)

    def _drain(self) -> None:
        if self._closed:
            return
        ignored = 0
        while not self._closed and self._display.pending_events():
            event = self._display.next_event()
            if event.type != X.KeyPress:
                continue
            grab = self._match(event.detail, event.state)
            if grab is None:
                ignored += 1
            else:
                run_callback(grab.hotkey, grab.callback)
        if ignored:
            _log.debug("%d X key events matched no hotkey", ignored)

    def _match(self, keycode: int, state: int) -> _Grab | None:
        locks = 0
        for mask in self._lock_masks:
            locks |= mask
        relevant = state & ~locks & 0xFF  # modifier bits only, without the lock keys
        for grab in self._grabs:
            if grab.keycode == keycode and grab.mask == relevant:
                return grab
        return None
