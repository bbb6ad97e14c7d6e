"""Hotkey combinations: parsing, canonical spelling, validation, each platform's codes.

No display and no platform API is needed: the backends' mapping functions are pure.
"""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from voxtray.desktop.hotkeys import base
from voxtray.desktop.hotkeys.base import (
    KEYS,
    Hotkey,
    HotkeyUnavailableError,
    InvalidHotkeyError,
    Modifier,
    create_hotkey_backend,
    hotkeys_unavailable_reason,
    session_kind,
)
from voxtray.desktop.hotkeys.macos import (
    CMD_KEY,
    CONTROL_KEY,
    OPTION_KEY,
    SHIFT_KEY,
    MacHotkeyBackend,
    carbon_key_code,
    carbon_modifiers,
)
from voxtray.desktop.hotkeys.portal import portal_trigger, shortcut_id
from voxtray.desktop.hotkeys.windows import (
    MOD_ALT,
    MOD_CONTROL,
    MOD_NOREPEAT,
    MOD_SHIFT,
    MOD_WIN,
    WindowsHotkeyBackend,
    virtual_key,
    windows_modifiers,
)
from voxtray.desktop.hotkeys.x11 import lock_variants, modifier_mask
from Xlib import X


@pytest.mark.parametrize(
    ("text", "modifiers", "key", "canonical"),
    [
        ("Ctrl+Alt+R", Modifier.CTRL | Modifier.ALT, "R", "Ctrl+Alt+R"),
        ("ctrl+alt+r", Modifier.CTRL | Modifier.ALT, "R", "Ctrl+Alt+R"),
        (" Alt + Control + r ", Modifier.CTRL | Modifier.ALT, "R", "Ctrl+Alt+R"),
        ("Super+Shift+F9", Modifier.META | Modifier.SHIFT, "F9", "Shift+Meta+F9"),
        ("Cmd+Option+space", Modifier.META | Modifier.ALT, "Space", "Alt+Meta+Space"),
        ("Win+PgDn", Modifier.META, "PageDown", "Meta+PageDown"),
        ("Ctrl+Enter", Modifier.CTRL, "Return", "Ctrl+Return"),
        ("Ctrl+Esc", Modifier.CTRL, "Escape", "Ctrl+Escape"),
        ("F12", Modifier.NONE, "F12", "F12"),
        ("Shift+Pause", Modifier.SHIFT, "Pause", "Shift+Pause"),
        ("Ctrl+Alt+7", Modifier.CTRL | Modifier.ALT, "7", "Ctrl+Alt+7"),
    ],
)
def test_parse(text: str, modifiers: Modifier, key: str, canonical: str) -> None:
    hotkey = Hotkey.parse(text)
    assert hotkey == Hotkey(modifiers, key)
    assert str(hotkey) == canonical
    assert Hotkey.parse(str(hotkey)) == hotkey


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Ctrl+Alt+", "empty part"),
        ("Ctrl++R", "empty part"),
        ("Ctrl+Alt", "no key"),
        ("Ctrl+Ctrl+R", "Ctrl twice"),
        ("Control+Ctrl+R", "Ctrl twice"),
        ("Hyper+R", "'Hyper' in 'Hyper+R' is not a modifier"),
        ("Ctrl+R+Alt", "'R' in 'Ctrl+R+Alt' is not a modifier"),
        ("Ctrl+Alt+é", "'é' in 'Ctrl+Alt+é' is not a key"),
        ("Ctrl+Alt+F25", "is not a key"),
        ("R", "R needs Ctrl, Alt or Meta"),
        ("Shift+R", "Shift+R needs Ctrl, Alt or Meta"),
        ("Space", "needs Ctrl, Alt or Meta"),
    ],
)
def test_invalid_combinations_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidHotkeyError, match=re.escape(message)) as caught:
        Hotkey.parse(text)
    assert isinstance(caught.value, ValueError)


def test_a_hotkey_made_in_code_is_validated_too() -> None:
    with pytest.raises(InvalidHotkeyError, match="not a key"):
        Hotkey(Modifier.CTRL, "r")  # canonical names only: "R"


@given(
    modifiers=st.sets(st.sampled_from(["Ctrl", "Alt", "Shift", "Meta"]), min_size=1),
    key=st.sampled_from(sorted(KEYS)),
)
def test_every_valid_combination_round_trips(modifiers: set[str], key: str) -> None:
    text = "+".join([*sorted(modifiers), key])
    try:
        hotkey = Hotkey.parse(text)
    except InvalidHotkeyError:
        assert modifiers == {"Shift"}  # the only refusal: Shift alone on a typing key
        return
    assert Hotkey.parse(str(hotkey)) == hotkey
    assert Hotkey.parse(str(hotkey).lower()) == hotkey


def test_unavailable_error_names_the_combination() -> None:
    exc = HotkeyUnavailableError("Ctrl+Alt+R", "is already taken by another application")
    assert str(exc) == "Ctrl+Alt+R is already taken by another application"
    assert (exc.combo, exc.reason) == ("Ctrl+Alt+R", "is already taken by another application")


def test_x11_modifier_masks_and_lock_variants() -> None:
    assert modifier_mask(Hotkey.parse("Ctrl+Alt+R").modifiers) == X.ControlMask | X.Mod1Mask
    assert modifier_mask(Modifier.SHIFT | Modifier.META) == X.ShiftMask | X.Mod4Mask
    assert Hotkey.parse("Ctrl+PageUp").codes.x11 == "Prior"
    assert Hotkey.parse("Ctrl+Alt+R").codes.x11 == "r"
    variants = lock_variants((X.LockMask, X.Mod2Mask, X.Mod5Mask))
    assert len(variants) == 8 == len(set(variants))
    assert variants[0] == 0
    assert X.LockMask | X.Mod2Mask | X.Mod5Mask in variants
    assert lock_variants((X.LockMask, X.Mod2Mask, X.Mod2Mask)) == [
        0,
        X.LockMask,
        X.Mod2Mask,
        X.LockMask | X.Mod2Mask,
    ]


def test_windows_codes() -> None:
    hotkey = Hotkey.parse("Ctrl+Alt+R")
    assert windows_modifiers(hotkey.modifiers) == MOD_CONTROL | MOD_ALT | MOD_NOREPEAT
    assert windows_modifiers(Modifier.SHIFT | Modifier.META) == MOD_SHIFT | MOD_WIN | MOD_NOREPEAT
    assert virtual_key(hotkey) == 0x52
    assert virtual_key(Hotkey.parse("Ctrl+F1")) == 0x70
    assert virtual_key(Hotkey.parse("Ctrl+F24")) == 0x87
    assert virtual_key(Hotkey.parse("Ctrl+5")) == 0x35
    assert virtual_key(Hotkey.parse("Ctrl+Delete")) == 0x2E


def test_macos_codes() -> None:
    hotkey = Hotkey.parse("Ctrl+Alt+R")
    assert carbon_modifiers(hotkey.modifiers) == CONTROL_KEY | OPTION_KEY
    assert carbon_modifiers(Modifier.SHIFT | Modifier.META) == SHIFT_KEY | CMD_KEY
    assert carbon_key_code(hotkey) == 0x0F  # kVK_ANSI_R
    assert carbon_key_code(Hotkey.parse("Cmd+A")) == 0x00
    assert carbon_key_code(Hotkey.parse("Cmd+F1")) == 0x7A
    assert carbon_key_code(Hotkey.parse("Cmd+0")) == 0x1D
    with pytest.raises(HotkeyUnavailableError, match="Ctrl\\+F21 uses a key Mac keyboards"):
        carbon_key_code(Hotkey.parse("Ctrl+F21"))


def test_portal_trigger_follows_the_shortcuts_spec() -> None:
    assert portal_trigger(Hotkey.parse("Ctrl+Alt+R")) == "CTRL+ALT+r"
    assert portal_trigger(Hotkey.parse("Shift+Meta+PageUp")) == "SHIFT+LOGO+Prior"
    assert shortcut_id(Hotkey.parse("alt+ctrl+r")) == "Ctrl+Alt+R"


@pytest.mark.parametrize(
    ("environ", "platform", "kind"),
    [
        ({"DISPLAY": ":0"}, "linux", "x11"),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "linux", "x11"),
        # XWayland's DISPLAY does not make a Wayland session an X11 one.
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "wayland"),
        ({"DISPLAY": ":1", "XDG_SESSION_TYPE": "wayland"}, "linux", "wayland"),
        ({}, "linux", "none"),
        ({"XDG_SESSION_TYPE": "tty"}, "linux", "none"),
        ({"DISPLAY": ":0"}, "win32", "windows"),
        ({}, "darwin", "macos"),
    ],
)
def test_session_kind(environ: dict[str, str], platform: str, kind: str) -> None:
    assert session_kind(environ, platform) == kind


def test_no_session_means_no_backend_and_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "session_kind", lambda: "none")
    assert create_hotkey_backend() is None
    reason = hotkeys_unavailable_reason()
    assert reason is not None and "DISPLAY" in reason and "WAYLAND_DISPLAY" in reason


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_the_windows_backend_refuses_other_platforms() -> None:
    with pytest.raises(base.NoHotkeyBackendError, match="Windows only"):
        WindowsHotkeyBackend()


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the refusal off macOS")
def test_the_macos_backend_refuses_other_platforms() -> None:
    with pytest.raises(base.NoHotkeyBackendError, match="macOS only"):
        MacHotkeyBackend()
