"""Global hotkeys: the parsed combination, the backend interface, and the choice of backend.

A global hotkey is registered with the platform's own API, which delivers that one combination
and nothing else: VoxTray never installs a keyboard hook that sees every key.

=============  =====================================================================
Session        Backend
=============  =====================================================================
X11            ``x11.py``: ``XGrabKey`` on the root window (python-xlib)
Wayland        ``portal.py``: the XDG ``GlobalShortcuts`` portal (D-Bus)
Windows        ``windows.py``: ``RegisterHotKey`` and ``WM_HOTKEY``
macOS          ``macos.py``: Carbon ``RegisterEventHotKey`` (no accessibility permission)
=============  =====================================================================

**Choosing on Linux.** A Wayland session (``XDG_SESSION_TYPE=wayland`` or ``WAYLAND_DISPLAY``
set) uses the portal even when ``DISPLAY`` is set too: that ``DISPLAY`` is XWayland, and an
XWayland grab only sees keys while an X11 window has the focus, so it would look as if it
worked and then fail silently in every native Wayland window. Only where no Wayland compositor
is announced does ``DISPLAY`` mean a real X server, and the X11 backend is used.

**Threads.** Every backend delivers its callbacks on the Qt main thread, without a thread of
its own: X11 and the portal watch their connection's socket with a ``QSocketNotifier``,
Windows filters ``WM_HOTKEY`` out of Qt's native event stream, and Carbon calls its handler on
the main run loop. A callback that raises is logged; the hotkey keeps working.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

_log = logging.getLogger(__name__)


class Modifier(enum.Flag):
    """The modifier keys a combination may hold. ``META`` is Super/Windows/Command."""

    NONE = 0
    CTRL = enum.auto()
    ALT = enum.auto()
    SHIFT = enum.auto()
    META = enum.auto()


_MODIFIER_ORDER: Final = (Modifier.CTRL, Modifier.ALT, Modifier.SHIFT, Modifier.META)
_MODIFIER_LABELS: Final = {
    Modifier.CTRL: "Ctrl",
    Modifier.ALT: "Alt",
    Modifier.SHIFT: "Shift",
    Modifier.META: "Meta",
}
_MODIFIER_ALIASES: Final = {
    "ctrl": Modifier.CTRL,
    "control": Modifier.CTRL,
    "ctl": Modifier.CTRL,
    "alt": Modifier.ALT,
    "option": Modifier.ALT,
    "opt": Modifier.ALT,
    "shift": Modifier.SHIFT,
    "meta": Modifier.META,
    "super": Modifier.META,
    "win": Modifier.META,
    "windows": Modifier.META,
    "cmd": Modifier.META,
    "command": Modifier.META,
    "logo": Modifier.META,
}


@dataclass(frozen=True, slots=True)
class KeyCodes:
    """One key's name in each platform's vocabulary (``None`` where the platform has none)."""

    x11: str
    """The X keysym name (also the XDG shortcuts-spec key name)."""
    windows: int | None
    """The Win32 virtual-key code."""
    macos: int | None
    """The Carbon virtual key code (``kVK_…``), for the US layout's key position."""


_MAC_LETTERS: Final = {
    "A": 0x00, "S": 0x01, "D": 0x02, "F": 0x03, "H": 0x04, "G": 0x05, "Z": 0x06, "X": 0x07,
    "C": 0x08, "V": 0x09, "B": 0x0B, "Q": 0x0C, "W": 0x0D, "E": 0x0E, "R": 0x0F, "Y": 0x10,
    "T": 0x11, "O": 0x1F, "U": 0x20, "I": 0x22, "P": 0x23, "L": 0x25, "J": 0x26, "K": 0x28,
    "N": 0x2D, "M": 0x2E,
}  # fmt: skip
_MAC_DIGITS: Final = {
    "1": 0x12, "2": 0x13, "3": 0x14, "4": 0x15, "6": 0x16, "5": 0x17, "9": 0x19, "7": 0x1A,
    "8": 0x1C, "0": 0x1D,
}  # fmt: skip
_MAC_FUNCTION: Final = (
    0x7A, 0x78, 0x63, 0x76, 0x60, 0x61, 0x62, 0x64, 0x65, 0x6D, 0x67, 0x6F,  # F1–F12
    0x69, 0x6B, 0x71, 0x6A, 0x40, 0x4F, 0x50, 0x5A,  # F13–F20
)  # fmt: skip


def _key_table() -> dict[str, KeyCodes]:
    keys: dict[str, KeyCodes] = {}
    mac: int | None
    for letter, mac in _MAC_LETTERS.items():
        keys[letter] = KeyCodes(letter.lower(), ord(letter), mac)
    for digit, mac in _MAC_DIGITS.items():
        keys[digit] = KeyCodes(digit, ord(digit), mac)
    for number in range(1, 25):
        mac = _MAC_FUNCTION[number - 1] if number <= len(_MAC_FUNCTION) else None
        keys[f"F{number}"] = KeyCodes(f"F{number}", 0x6F + number, mac)
    named: dict[str, tuple[str, int, int | None]] = {
        "Space": ("space", 0x20, 0x31),
        "Tab": ("Tab", 0x09, 0x30),
        "Return": ("Return", 0x0D, 0x24),
        "Escape": ("Escape", 0x1B, 0x35),
        "Backspace": ("BackSpace", 0x08, 0x33),
        "Insert": ("Insert", 0x2D, None),
        "Delete": ("Delete", 0x2E, 0x75),
        "Home": ("Home", 0x24, 0x73),
        "End": ("End", 0x23, 0x77),
        "PageUp": ("Prior", 0x21, 0x74),
        "PageDown": ("Next", 0x22, 0x79),
        "Left": ("Left", 0x25, 0x7B),
        "Up": ("Up", 0x26, 0x7E),
        "Right": ("Right", 0x27, 0x7C),
        "Down": ("Down", 0x28, 0x7D),
        "Pause": ("Pause", 0x13, None),
        "Print": ("Print", 0x2C, None),
    }
    for name, (x11, windows, mac) in named.items():
        keys[name] = KeyCodes(x11, windows, mac)
    return keys


KEYS: Final[Mapping[str, KeyCodes]] = _key_table()
"""Every key a hotkey may use, by its canonical name."""

_KEY_ALIASES: Final = {
    "enter": "Return",
    "esc": "Escape",
    "del": "Delete",
    "ins": "Insert",
    "pgup": "PageUp",
    "pgdown": "PageDown",
    "pgdn": "PageDown",
    "prior": "PageUp",
    "next": "PageDown",
    "printscreen": "Print",
    "prtsc": "Print",
    "break": "Pause",
}
_KEYS_BY_FOLDED: Final = {name.casefold(): name for name in KEYS} | _KEY_ALIASES

_STANDALONE_KEYS: Final = frozenset({f"F{n}" for n in range(1, 25)} | {"Pause", "Print"})
"""Keys that may be a hotkey without Ctrl, Alt or Meta: grabbing them steals no typing."""


class InvalidHotkeyError(ValueError):
    """A combination that cannot be parsed or would make a poor global hotkey."""


class HotkeyUnavailableError(Exception):
    """A valid combination the system would not give us.

    ``reason`` completes a sentence that starts with the combination:
    ``HotkeyUnavailableError("Ctrl+Alt+R", "is already taken by another application")``.
    """

    def __init__(self, combo: str, reason: str) -> None:
        super().__init__(f"{combo} {reason}")
        self.combo = combo
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Hotkey:
    """A key combination: modifiers and one key. ``str()`` gives the canonical spelling."""

    modifiers: Modifier
    key: str
    """A canonical name from :data:`KEYS` (``"R"``, ``"F5"``, ``"PageUp"``)."""

    def __post_init__(self) -> None:
        if self.key not in KEYS:
            raise InvalidHotkeyError(f"{self.key!r} is not a key VoxTray can use in a hotkey")
        if self.key not in _STANDALONE_KEYS and not self.modifiers & (
            Modifier.CTRL | Modifier.ALT | Modifier.META
        ):
            raise InvalidHotkeyError(
                f"{self} needs Ctrl, Alt or Meta: without one it would take the key "
                "away from every application you type in"
            )

    @classmethod
    def parse(cls, text: str) -> Hotkey:
        """Parse ``"Ctrl+Alt+R"``: modifiers and one key joined by ``+``, case-insensitive.

        Accepts common aliases (Control, Option, Super, Win, Cmd; Enter, Esc, PgUp…).
        Raises :class:`InvalidHotkeyError` with a sentence saying what is wrong.
        """
        stripped = text.strip()
        if not stripped:
            raise InvalidHotkeyError("the hotkey is empty")
        parts = [part.strip() for part in stripped.split("+")]
        if any(not part for part in parts):
            raise InvalidHotkeyError(
                f"{stripped!r} has an empty part: write the names joined by '+', like Ctrl+Alt+R"
            )
        *modifier_names, key_name = parts
        modifiers = Modifier.NONE
        for name in modifier_names:
            modifier = _MODIFIER_ALIASES.get(name.casefold())
            if modifier is None:
                raise InvalidHotkeyError(
                    f"{name!r} in {stripped!r} is not a modifier (Ctrl, Alt, Shift or Meta); "
                    "only the last part may be a key"
                )
            if modifiers & modifier:
                raise InvalidHotkeyError(f"{stripped!r} names {_MODIFIER_LABELS[modifier]} twice")
            modifiers |= modifier
        if key_name.casefold() in _MODIFIER_ALIASES:
            raise InvalidHotkeyError(
                f"{stripped!r} has modifiers but no key, like the R in Ctrl+Alt+R"
            )
        key = _KEYS_BY_FOLDED.get(key_name.casefold())
        if key is None:
            raise InvalidHotkeyError(
                f"{key_name!r} in {stripped!r} is not a key VoxTray can use in a hotkey "
                "(letters, digits, F1–F24, Space, Tab, Return, Escape, Backspace, Insert, "
                "Delete, Home, End, PageUp, PageDown, arrows, Pause, Print)"
            )
        return cls(modifiers, key)

    @property
    def codes(self) -> KeyCodes:
        return KEYS[self.key]

    def __str__(self) -> str:
        held = modifiers_text(self.modifiers)
        return f"{held}+{self.key}" if held else self.key


def modifiers_text(modifiers: Modifier) -> str:
    """Modifiers in the canonical order and spelling: ``"Ctrl+Alt"``; ``""`` for none."""
    return "+".join(_MODIFIER_LABELS[m] for m in _MODIFIER_ORDER if modifiers & m)


class HotkeyBackend(Protocol):
    """A platform's global hotkeys. Used on the Qt main thread only."""

    name: str
    """Short name for logs and the about box: ``"x11"``, ``"portal"``, ``"windows"``…"""

    def register(self, combo: str, callback: Callable[[], None]) -> None:
        """Deliver ``combo`` to ``callback`` (on the main thread) until unregistered.

        Raises :class:`InvalidHotkeyError` for a combination that does not parse and
        :class:`HotkeyUnavailableError` when the system will not give it (taken by another
        application, already registered here, no such key on this keyboard).
        """
        ...

    def unregister_all(self) -> None:
        """Release every combination; registering again afterwards is allowed."""
        ...

    def close(self) -> None:
        """Release everything and the connection to the system. Idempotent."""
        ...


def run_callback(combo: Hotkey, callback: Callable[[], None]) -> None:
    """Call a hotkey's callback; an exception is logged and does not reach Qt's event loop."""
    try:
        callback()
    except Exception:
        _log.exception("The action for the hotkey %s failed", combo)


def session_kind(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """``"windows"``, ``"macos"``, ``"wayland"``, ``"x11"`` or ``"none"`` (see the module doc)."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    if env.get("XDG_SESSION_TYPE", "").casefold() == "wayland" or env.get("WAYLAND_DISPLAY"):
        return "wayland"
    if env.get("DISPLAY"):
        return "x11"
    return "none"


_last_reason: str | None = None


def create_hotkey_backend() -> HotkeyBackend | None:
    """The backend for this session, or ``None`` when none works here.

    After ``None``, :func:`hotkeys_unavailable_reason` says why in a sentence for the user.
    """
    global _last_reason  # one process, one session: the reason of the last attempt is enough
    backend: HotkeyBackend | None = None
    kind = session_kind()
    try:
        if kind == "x11":
            from .x11 import X11HotkeyBackend

            backend = X11HotkeyBackend()
        elif kind == "wayland":
            from .portal import PortalHotkeyBackend

            backend = PortalHotkeyBackend()
        elif kind == "windows":
            from .windows import WindowsHotkeyBackend

            backend = WindowsHotkeyBackend()
        elif kind == "macos":
            from .macos import MacHotkeyBackend

            backend = MacHotkeyBackend()
        else:
            _last_reason = (
                "no graphical session was found (neither DISPLAY nor WAYLAND_DISPLAY is set)"
            )
            return None
    except NoHotkeyBackendError as exc:
        _last_reason = exc.reason
        return None
    _last_reason = None
    return backend


def hotkeys_unavailable_reason() -> str | None:
    """Why the last :func:`create_hotkey_backend` returned ``None``; ``None`` if it did not."""
    return _last_reason


class NoHotkeyBackendError(Exception):
    """No backend can work in this session; ``reason`` is a sentence for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
