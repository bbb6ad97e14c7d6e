"""The X11 hotkey backend against a real X server: grabs, real key presses, taken combinations.

The X server is a private Xvfb started by the ``xserver`` fixture below (``-displayfd`` picks a
free display and says when it is ready, so nothing waits by the clock). Keys are pressed with
``xdotool``, which goes through XTEST and therefore through the grabs like a real keyboard.
Qt itself runs offscreen: the backend has its own X connection and needs none of Qt's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

if not sys.platform.startswith("linux"):
    pytest.skip("X11 hotkeys are tested on Linux only", allow_module_level=True)

from pytestqt.qtbot import QtBot
from voxtray.desktop.hotkeys.base import (
    HotkeyUnavailableError,
    InvalidHotkeyError,
    NoHotkeyBackendError,
)
from voxtray.desktop.hotkeys.x11 import X11HotkeyBackend
from Xlib import XK, X, error
from Xlib.display import Display


@dataclass
class XServer:
    display: str
    process: subprocess.Popen[bytes]

    def press(self, keys: str) -> None:
        subprocess.run(
            ["xdotool", "key", "--clearmodifiers", keys],
            env={**os.environ, "DISPLAY": self.display},
            check=True,
            timeout=10,
        )


@pytest.fixture(scope="module")
def xserver() -> Iterator[XServer]:
    """A private Xvfb (test-harness.md recipe), stopped by its PID afterwards."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make test`, which installs them")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as ready:
            number = ready.readline().strip().decode()  # written once the server accepts clients
        if not number:
            pytest.fail(f"Xvfb exited with {process.wait(timeout=10)} before it was ready")
        yield XServer(f":{number}", process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def backend(xserver: XServer, qtbot: QtBot) -> Iterator[X11HotkeyBackend]:
    hotkeys = X11HotkeyBackend(xserver.display)
    yield hotkeys
    hotkeys.close()


def counter() -> tuple[list[int], Callable[[], None]]:
    calls: list[int] = []
    return calls, lambda: calls.append(1)


def test_the_registered_combination_fires_on_a_real_key_press(
    xserver: XServer, backend: X11HotkeyBackend, qtbot: QtBot
) -> None:
    read_now, on_read_now = counter()
    stop, on_stop = counter()
    backend.register("Ctrl+Alt+R", on_read_now)
    backend.register("ctrl+alt+s", on_stop)

    xserver.press("ctrl+alt+r")
    qtbot.waitUntil(lambda: len(read_now) == 1, timeout=5000)
    xserver.press("ctrl+alt+s")
    qtbot.waitUntil(lambda: len(stop) == 1, timeout=5000)
    assert len(read_now) == 1  # the other hotkey did not fire it


def test_it_fires_with_caps_lock_and_num_lock_on(
    xserver: XServer, backend: X11HotkeyBackend, qtbot: QtBot
) -> None:
    calls, callback = counter()
    backend.register("Ctrl+Alt+R", callback)
    xserver.press("Caps_Lock")
    xserver.press("Num_Lock")
    try:
        # Without --clearmodifiers, so that the lock state stays in the event's state.
        subprocess.run(
            ["xdotool", "key", "ctrl+alt+r"],
            env={**os.environ, "DISPLAY": xserver.display},
            check=True,
            timeout=10,
        )
        qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)
    finally:
        xserver.press("Caps_Lock")
        xserver.press("Num_Lock")


def test_a_combination_held_by_another_client_is_reported_by_name(
    xserver: XServer, backend: X11HotkeyBackend
) -> None:
    other = Display(xserver.display)
    try:
        keycode = other.keysym_to_keycode(XK.string_to_keysym("r"))
        mask = X.ControlMask | X.Mod1Mask
        other.screen().root.grab_key(keycode, mask, True, X.GrabModeAsync, X.GrabModeAsync)
        other.sync()

        with pytest.raises(HotkeyUnavailableError) as caught:
            backend.register("Ctrl+Alt+R", lambda: None)
        assert caught.value.combo == "Ctrl+Alt+R"
        assert str(caught.value) == "Ctrl+Alt+R is already taken by another application"

        # The variants grabbed before the conflict were released: once the other client
        # lets go, the whole set can be grabbed.
        other.screen().root.ungrab_key(keycode, mask)
        other.sync()
        backend.register("Ctrl+Alt+R", lambda: None)
    finally:
        other.close()


def test_unregister_releases_the_grab(xserver: XServer, backend: X11HotkeyBackend) -> None:
    backend.register("Ctrl+Alt+R", lambda: None)
    other = Display(xserver.display)
    try:
        keycode = other.keysym_to_keycode(XK.string_to_keysym("r"))
        mask = X.ControlMask | X.Mod1Mask

        def other_grabs() -> bool:
            catcher = error.CatchError(error.BadAccess)
            root = other.screen().root
            root.grab_key(keycode, mask, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher)
            other.sync()
            if catcher.get_error() is None:
                root.ungrab_key(keycode, mask)
                other.sync()
                return True
            return False

        assert not other_grabs()
        backend.unregister_all()
        assert other_grabs()
    finally:
        other.close()


def test_close_releases_the_grabs(xserver: XServer, qtbot: QtBot) -> None:
    first = X11HotkeyBackend(xserver.display)
    first.register("Ctrl+Alt+R", lambda: None)
    first.close()
    first.close()  # idempotent
    second = X11HotkeyBackend(xserver.display)
    try:
        second.register("Ctrl+Alt+R", lambda: None)
    finally:
        second.close()


def test_the_same_combination_twice_and_invalid_combinations(backend: X11HotkeyBackend) -> None:
    backend.register("Ctrl+Alt+R", lambda: None)
    with pytest.raises(HotkeyUnavailableError, match="already used for another VoxTray action"):
        backend.register("Alt+Ctrl+r", lambda: None)
    with pytest.raises(InvalidHotkeyError):
        backend.register("Ctrl+Alt+", lambda: None)


def test_a_callback_that_raises_does_not_stop_the_hotkeys(
    xserver: XServer, backend: X11HotkeyBackend, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    calls, callback = counter()

    def broken() -> None:
        raise RuntimeError("boom")

    backend.register("Ctrl+Alt+B", broken)
    backend.register("Ctrl+Alt+R", callback)
    xserver.press("ctrl+alt+b")
    xserver.press("ctrl+alt+r")
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)
    assert "Ctrl+Alt+B failed" in caplog.text


def test_no_x_server_means_no_backend(qtbot: QtBot) -> None:
    with pytest.raises(NoHotkeyBackendError, match="X server could not be reached"):
        X11HotkeyBackend(":4097")
