"""The Wayland backend against a GlobalShortcuts portal on a private D-Bus bus.

The bus is a private ``dbus-daemon`` (no service directory, so nothing is activated behind our
back); the portal is a small fake (a thread speaking D-Bus through jeepney) that answers
CreateSession and BindShortcuts the way xdg-desktop-portal does — a method reply with the
request path, then a ``Response`` signal on it — and emits ``Activated`` when the test asks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.process import BUS_CONFIG

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

if not sys.platform.startswith("linux"):
    pytest.skip("the GlobalShortcuts portal exists on Linux only", allow_module_level=True)

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from jeepney.low_level import Message
from jeepney.wrappers import new_method_return
from pytestqt.qtbot import QtBot
from voxtray.desktop.hotkeys.base import NoHotkeyBackendError
from voxtray.desktop.hotkeys.portal import (
    NO_PORTAL_REASON,
    PORTAL_NAME,
    PORTAL_PATH,
    REQUEST_INTERFACE,
    SHORTCUTS_INTERFACE,
    PortalHotkeyBackend,
)

_CONFIG = BUS_CONFIG
TEST_INTERFACE = "org.voxtray.Test"
SESSION = "/org/freedesktop/portal/desktop/session/fake/1"


@pytest.fixture
def bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private session bus; its address is this process's session bus for the test."""
    if shutil.which("dbus-daemon") is None:
        pytest.fail("missing dbus-daemon: run `make test`, which installs it")
    config = tmp_path / "bus.conf"
    config.write_text(_CONFIG.format(socket=tmp_path / "bus"))
    read_fd, write_fd = os.pipe()
    daemon = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", f"--print-address={write_fd}"],
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as ready:
            address = ready.readline().strip()  # printed once the bus accepts connections
        assert address, f"dbus-daemon exited with {daemon.wait(timeout=10)}"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


class FakePortal(threading.Thread):
    """Answers the portal's GlobalShortcuts calls; ``Press(id)`` emits ``Activated``."""

    def __init__(self, address: str, *, grant: bool = True) -> None:
        super().__init__(daemon=True)
        self.grant = grant
        self.pressed_during_close: str | None = None
        """A key "pressed" while the client waits for the reply to Close (a rebind)."""
        self.bound: list[list[tuple[str, dict[str, Any]]]] = []
        self.closed_sessions: list[str] = []
        self.conn = open_dbus_connection(address)
        self.conn.send_and_get_reply(
            new_method_call(message_bus, "RequestName", "su", (PORTAL_NAME, 4)), timeout=5
        )

    def run(self) -> None:
        while True:
            message = self.conn.receive()
            if message.header.message_type != MessageType.method_call:
                continue
            if not self.answer(message):
                break
        self.conn.close()

    def answer(self, message: Message) -> bool:
        fields = message.header.fields
        member = fields[HeaderFields.member]
        if member == "Quit":
            self.conn.send(new_method_return(message))
            return False
        if member == "Get":
            self.conn.send(new_method_return(message, "v", (("u", 1),)))
        elif member == "CreateSession":
            (options,) = message.body
            path = self.reply_with_request(message, options)
            self.respond(path, 0, {"session_handle": ("o", SESSION)})
        elif member == "BindShortcuts":
            session, shortcuts, _parent, options = message.body
            assert session == SESSION
            path = self.reply_with_request(message, options)
            if self.grant:
                self.bound.append(list(shortcuts))
                chosen = [(key, {"trigger_description": ("s", key)}) for key, _ in shortcuts]
                self.respond(path, 0, {"shortcuts": ("a(sa{sv})", chosen)})
            else:
                self.respond(path, 1, {})
        elif member == "Close":
            self.closed_sessions.append(fields[HeaderFields.path])
            if self.pressed_during_close is not None:
                self.conn.send(self.activated(self.pressed_during_close))
            self.conn.send(new_method_return(message))
        elif member == "Press":
            (key,) = message.body
            self.conn.send(self.activated(key))
            self.conn.send(new_method_return(message))
        return True

    @staticmethod
    def activated(key: str) -> Message:
        return new_signal(
            DBusAddress(PORTAL_PATH, interface=SHORTCUTS_INTERFACE),
            "Activated",
            "osta{sv}",
            (SESSION, key, 0, {}),
        )

    def reply_with_request(self, message: Message, options: dict[str, Any]) -> str:
        sender = message.header.fields[HeaderFields.sender].lstrip(":").replace(".", "_")
        path = f"/org/freedesktop/portal/desktop/request/{sender}/{options['handle_token'][1]}"
        self.conn.send(new_method_return(message, "o", (path,)))
        return path

    def respond(self, path: str, response: int, results: dict[str, Any]) -> None:
        address = DBusAddress(path, interface=REQUEST_INTERFACE)
        self.conn.send(new_signal(address, "Response", "ua{sv}", (response, results)))


class PortalClient:
    """The test's own connection: presses keys on the fake and stops it."""

    def __init__(self, address: str) -> None:
        self.conn = open_dbus_connection(address)
        self.fake = DBusAddress(PORTAL_PATH, PORTAL_NAME, TEST_INTERFACE)

    def press(self, key: str) -> None:
        self.conn.send_and_get_reply(new_method_call(self.fake, "Press", "s", (key,)), timeout=5)

    def quit(self) -> None:
        self.conn.send_and_get_reply(new_method_call(self.fake, "Quit"), timeout=5)
        self.conn.close()


@pytest.fixture
def portal(bus: str) -> Iterator[tuple[FakePortal, PortalClient]]:
    fake = FakePortal(bus)
    fake.start()
    tester = PortalClient(bus)
    yield fake, tester
    tester.quit()
    fake.join(timeout=10)
    assert not fake.is_alive()


def test_shortcuts_are_bound_in_one_request_and_activation_calls_back(
    portal: tuple[FakePortal, PortalClient], qtbot: QtBot
) -> None:
    fake, tester = portal
    backend = PortalHotkeyBackend()
    calls: list[str] = []
    try:
        backend.register("Ctrl+Alt+R", lambda: calls.append("read"))
        backend.register("shift+super+f9", lambda: calls.append("stop"))
        qtbot.waitUntil(lambda: len(fake.bound) == 1, timeout=5000)
        assert fake.bound[0] == [
            (
                "Ctrl+Alt+R",
                {
                    "description": ("s", "VoxTray: Ctrl+Alt+R"),
                    "preferred_trigger": ("s", "CTRL+ALT+r"),
                },
            ),
            (
                "Shift+Meta+F9",
                {
                    "description": ("s", "VoxTray: Shift+Meta+F9"),
                    "preferred_trigger": ("s", "SHIFT+LOGO+F9"),
                },
            ),
        ]
        tester.press("Shift+Meta+F9")
        qtbot.waitUntil(lambda: calls == ["stop"], timeout=5000)
        tester.press("Ctrl+Alt+R")
        qtbot.waitUntil(lambda: calls == ["stop", "read"], timeout=5000)

        backend.unregister_all()
        assert fake.closed_sessions == [SESSION]
    finally:
        backend.close()


def test_a_key_pressed_while_the_shortcuts_are_rebound_is_not_lost(
    portal: tuple[FakePortal, PortalClient], qtbot: QtBot
) -> None:
    """The portal's Activated signal can arrive while the backend waits for a method's reply
    (here: closing the old session to bind a new set); it must still reach its callback."""
    fake, _ = portal
    backend = PortalHotkeyBackend()
    calls: list[str] = []
    try:
        backend.register("Ctrl+Alt+R", lambda: calls.append("read"))
        qtbot.waitUntil(lambda: len(fake.bound) == 1, timeout=5000)
        fake.pressed_during_close = "Ctrl+Alt+R"
        backend.register("Ctrl+Alt+S", lambda: calls.append("stop"))  # rebinds: Close first
        qtbot.waitUntil(lambda: len(fake.bound) == 2, timeout=5000)
        qtbot.waitUntil(lambda: calls == ["read"], timeout=5000)
    finally:
        fake.pressed_during_close = None
        backend.close()


def test_a_refusal_is_reported_by_name(
    portal: tuple[FakePortal, PortalClient], qtbot: QtBot
) -> None:
    fake, _ = portal
    fake.grant = False
    backend = PortalHotkeyBackend()
    problems: list[str] = []
    backend.problem_handler = problems.append
    try:
        backend.register("Ctrl+Alt+R", lambda: None)
        qtbot.waitUntil(lambda: problems != [], timeout=5000)
        assert problems == ["Ctrl+Alt+R were not granted by the desktop"]
    finally:
        backend.close()


def test_without_a_portal_the_reason_says_what_to_do(bus: str, qtbot: QtBot) -> None:
    with pytest.raises(NoHotkeyBackendError) as caught:
        PortalHotkeyBackend()
    assert caught.value.reason == NO_PORTAL_REASON
