"""Global hotkeys on Wayland: the XDG ``org.freedesktop.portal.GlobalShortcuts`` portal.

Wayland gives no client a way to grab keys; the compositor owns them. The portal lets an
application *ask* for shortcuts: ``CreateSession``, then ``BindShortcuts`` with each shortcut's
id, description and preferred trigger; the compositor (often after asking the user) binds them
and emits ``Activated`` with the shortcut id when one is pressed. Both calls answer through a
``Response`` signal on a request object, because the user may take a while.

So :meth:`PortalHotkeyBackend.register` cannot know at once whether a combination will be
granted. It checks the combination, remembers it, and the whole set is bound on the next turn
of the event loop (the app registers its hotkeys one after another at start-up: they go to
the compositor in one dialog). A refusal or a combination the compositor left unbound is
reported through :attr:`PortalHotkeyBackend.problem_handler` (default: a log warning).

D-Bus is spoken with jeepney (pure Python, sans-I/O messages; already a dependency of keyring
on Linux) because QtDBus in PySide6 cannot marshal the portal's ``a(sa{sv})``. Method calls
are quick local round trips; signals are read when the bus socket becomes readable, through a
``QSocketNotifier`` on the main thread: no thread, no polling.

Where no portal offers GlobalShortcuts (GNOME before 48, wlroots compositors…), the backend
cannot be created, and the reason tells the user how to bind the CLI commands in the
compositor instead.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer

from .base import (
    Hotkey,
    HotkeyUnavailableError,
    Modifier,
    NoHotkeyBackendError,
    run_callback,
)

_log = logging.getLogger(__name__)

NO_PORTAL_REASON = (
    "no GlobalShortcuts portal: bind `voxtray read-clipboard` / `voxtray stop` in your compositor"
)

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS_INTERFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"
SESSION_INTERFACE = "org.freedesktop.portal.Session"
_CALL_TIMEOUT = 3.0
"""Seconds a method call may take (the answer itself comes later, as a Response signal)."""

_TRIGGER_MODIFIERS = {
    Modifier.CTRL: "CTRL",
    Modifier.ALT: "ALT",
    Modifier.SHIFT: "SHIFT",
    Modifier.META: "LOGO",
}


def portal_trigger(hotkey: Hotkey) -> str:
    """The hotkey in the XDG shortcuts-spec form the portal's ``preferred_trigger`` takes:
    modifiers in upper case, then the key's keysym name (``CTRL+ALT+r``)."""
    names = [name for modifier, name in _TRIGGER_MODIFIERS.items() if hotkey.modifiers & modifier]
    return "+".join([*names, hotkey.codes.x11])


def shortcut_id(hotkey: Hotkey) -> str:
    """The id a hotkey is bound under: its canonical spelling."""
    return str(hotkey)


class PortalHotkeyBackend(QObject):
    """Global hotkeys through the GlobalShortcuts portal; see the module docstring."""

    name = "portal"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._closed = True  # until the portal has answered
        try:
            from jeepney import DBusAddress, MatchRule, message_bus, new_method_call
            from jeepney.io.blocking import open_dbus_connection
            from jeepney.wrappers import DBusErrorResponse, unwrap_msg
        except ImportError as exc:  # pragma: no cover - jeepney comes with keyring on Linux
            raise NoHotkeyBackendError(f"jeepney is not installed ({exc})") from exc
        self._new_call = new_method_call
        self._unwrap = unwrap_msg
        self._portal = DBusAddress(PORTAL_PATH, PORTAL_NAME, SHORTCUTS_INTERFACE)
        self._address_type = DBusAddress
        try:
            self._bus: Any = open_dbus_connection(bus="SESSION")
        except (OSError, KeyError, ValueError) as exc:
            raise NoHotkeyBackendError(f"{NO_PORTAL_REASON} (no D-Bus session bus: {exc})") from exc
        try:
            properties = DBusAddress(PORTAL_PATH, PORTAL_NAME, "org.freedesktop.DBus.Properties")
            self._call(properties, "Get", "ss", (SHORTCUTS_INTERFACE, "version"))
            # A signal that arrives while a method call waits for its reply (a key pressed
            # while the shortcuts are rebound) would be thrown away by jeepney unless a
            # filter catches it: these filters put such signals in ``_caught`` for _drain.
            self._caught: deque[Any] = deque()
            self._filters: list[Any] = []
            for member, interface in (("Response", REQUEST_INTERFACE), ("Activated", None)):
                rule = MatchRule(
                    type="signal", interface=interface or SHORTCUTS_INTERFACE, member=member
                )
                self._filters.append(self._bus.filter(rule, queue=self._caught))
                self._call(message_bus, "AddMatch", "s", (rule.serialise(),))
        except (DBusErrorResponse, TimeoutError, OSError) as exc:
            self._bus.close()  # _closed stays True: a scheduled drain does nothing
            raise NoHotkeyBackendError(NO_PORTAL_REASON) from exc
        self._sender = self._bus.unique_name.lstrip(":").replace(".", "_")
        self._tokens = itertools.count(1)
        self._wanted: dict[str, tuple[Hotkey, Callable[[], None]]] = {}
        self._session: str | None = None
        self._sessions: set[str] = set()
        """Every session this backend opened (their signals are ours, even late ones)."""
        self._pending: dict[str, Callable[[int, dict[str, Any]], None]] = {}
        self._bind_scheduled = False
        self.problem_handler: Callable[[str], None] = _log.warning
        """Called with a sentence when the compositor refuses or leaves out a hotkey."""
        self._notifier = QSocketNotifier(self._bus.sock.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._closed = False

    def register(self, combo: str, callback: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError("this hotkey backend is closed")
        hotkey = Hotkey.parse(combo)
        key = shortcut_id(hotkey)
        if key in self._wanted:
            raise HotkeyUnavailableError(key, "is already used for another VoxTray action")
        self._wanted[key] = (hotkey, callback)
        if not self._bind_scheduled:
            self._bind_scheduled = True
            QTimer.singleShot(0, self, self._bind)

    def unregister_all(self) -> None:
        self._wanted.clear()
        self._close_session()

    def close(self) -> None:
        if self._closed:
            return
        self.unregister_all()
        self._closed = True
        self._notifier.setEnabled(False)
        self._notifier.activated.disconnect(self._drain)
        for handle in self._filters:
            handle.close()
        self._bus.close()

    # The conversation with the portal.

    def _bind(self) -> None:
        """Bind every wanted shortcut in a fresh session (a session binds once)."""
        self._bind_scheduled = False
        if self._closed or not self._wanted:
            return
        self._close_session()
        wanted = dict(self._wanted)

        def session_created(response: int, results: dict[str, Any]) -> None:
            if response != 0 or "session_handle" not in results:
                self._problem("the desktop did not open a shortcuts session", wanted)
                return
            self._session = str(results["session_handle"][1])
            self._sessions.add(self._session)
            shortcuts = [
                (
                    key,
                    {
                        "description": ("s", f"VoxTray: {key}"),
                        "preferred_trigger": ("s", portal_trigger(hotkey)),
                    },
                )
                for key, (hotkey, _) in wanted.items()
            ]
            self._request(
                "BindShortcuts",
                "oa(sa{sv})s",
                (self._session, shortcuts, ""),
                shortcuts_bound,
            )

        def shortcuts_bound(response: int, results: dict[str, Any]) -> None:
            if response != 0:
                self._problem("were not granted by the desktop", wanted)
                return
            bound = {str(item[0]) for item in results.get("shortcuts", ("", []))[1]}
            missing = {key: value for key, value in wanted.items() if key not in bound}
            if missing:
                self._problem("were not bound by the desktop", missing)

        token = f"voxtray{next(self._tokens)}"
        self._request("CreateSession", "", (), session_created, session_handle_token=token)

    def _request(
        self,
        method: str,
        signature: str,
        body: tuple[Any, ...],
        on_response: Callable[[int, dict[str, Any]], None],
        **options: str,
    ) -> None:
        """Call a portal method whose answer comes as a ``Response`` on a request object.

        ``body`` is the method's arguments without the final options dictionary, which is
        made here: a ``handle_token`` plus ``options`` (string values).
        """
        token = f"voxtray{next(self._tokens)}"
        # The request's path is known before the call, so a fast Response is never missed.
        path = f"/org/freedesktop/portal/desktop/request/{self._sender}/{token}"
        self._pending[path] = on_response
        variants = {"handle_token": ("s", token)} | {k: ("s", v) for k, v in options.items()}
        try:
            (handle,) = self._call(self._portal, method, signature + "a{sv}", (*body, variants))
        except Exception as exc:
            del self._pending[path]
            self._problem(f"could not be requested ({exc})", self._wanted)
            return
        if handle != path:  # an old portal that ignores handle_token
            self._pending[str(handle)] = self._pending.pop(path)

    def _call(self, address: Any, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        message = self._new_call(address, method, signature, body)
        reply = self._bus.send_and_get_reply(message, timeout=_CALL_TIMEOUT)
        self._dispatch_later()
        return self._unwrap(reply)

    def _close_session(self) -> None:
        if self._session is None:
            return
        session, self._session = self._session, None
        address = self._address_type(session, PORTAL_NAME, SESSION_INTERFACE)
        try:
            self._call(address, "Close", "", ())
        except Exception as exc:  # the portal may already have closed it
            _log.debug("closing the shortcuts session failed: %s", exc)

    # Incoming messages.

    def _dispatch_later(self) -> None:
        # send_and_get_reply may have read signals (into ``_caught``) or buffered bytes: the
        # socket will not wake the notifier for them, so look on the next turn of the loop.
        QTimer.singleShot(0, self, self._drain)

    def _drain(self) -> None:
        while not self._closed:
            if self._caught:
                self._dispatch(self._caught.popleft())
                continue
            try:
                message = self._bus.receive(timeout=0)
            except TimeoutError:
                return
            except OSError as exc:
                _log.warning("the D-Bus connection of the hotkeys was lost: %s", exc)
                self._notifier.setEnabled(False)
                return
            self._dispatch(message)

    def _dispatch(self, message: Any) -> None:
        from jeepney import HeaderFields

        fields = message.header.fields
        member = fields.get(HeaderFields.member)
        path = str(fields.get(HeaderFields.path, ""))
        if member == "Response" and fields.get(HeaderFields.interface) == REQUEST_INTERFACE:
            handler = self._pending.pop(path, None)
            if handler is not None:
                response, results = message.body
                handler(int(response), dict(results))
        elif member == "Activated" and fields.get(HeaderFields.interface) == SHORTCUTS_INTERFACE:
            session, key = message.body[0], message.body[1]
            found = self._wanted.get(str(key))
            # Any session of ours, not only the current one: a key pressed just before a
            # rebind arrives for the session being replaced. Others' sessions are not ours.
            if session in self._sessions and found is not None:
                run_callback(*found)

    def _problem(self, what: str, hotkeys: dict[str, tuple[Hotkey, Callable[[], None]]]) -> None:
        names = ", ".join(hotkeys) or "the hotkeys"
        self.problem_handler(f"{names} {what}")
