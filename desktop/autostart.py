"""Start VoxTray at login: the one place that knows each platform's mechanism.

=========  ==========================================================================
Linux      an XDG autostart entry, ``$XDG_CONFIG_HOME/autostart/voxtray.desktop``
           (``~/.config/autostart``), which every XDG desktop starts at login
Windows    the ``VoxTray`` value of ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``
macOS      a LaunchAgent, ``~/Library/LaunchAgents/org.voxtray.VoxTray.plist``, RunAtLoad
=========  ==========================================================================

Only the current user's login is touched; nothing needs administrator rights. The command is
the running program: the frozen executable, or this Python running the desktop package.
"""

from __future__ import annotations

import contextlib
import os
import plistlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

APP_NAME = "VoxTray"
APP_ID = "io.github.voxtray.VoxTray"
"""The app id of pyproject.toml's ``[tool.voxtray]``, which names the installed icon (and the
.desktop file and AppStream data in resources/linux/); tests/unit/test_packaging_metadata.py
checks that the two agree."""
DESKTOP_FILE = "voxtray.desktop"
LAUNCH_AGENT_LABEL = "org.voxtray.VoxTray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class AutostartError(Exception):
    """Start at login could not be changed; the message says why, for the user."""


def app_command() -> list[str]:
    """How to start the tray app as it is installed now."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "voxtray.desktop"]


def desktop_entry_path(environ: dict[str, str] | None = None) -> Path:
    """Where the XDG autostart entry lives."""
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME") or ""
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "autostart" / DESKTOP_FILE


def launch_agent_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"


def exec_line(command: Sequence[str]) -> str:
    """``command`` as a desktop entry's ``Exec`` value (quoting per the Desktop Entry spec)."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    parts = []
    for argument in command:
        escaped = argument.replace("%", "%%")
        if argument and not reserved.intersection(argument):
            parts.append(escaped)
            continue
        for char in ("\\", '"', "`", "$"):
            escaped = escaped.replace(char, "\\" + char)
        parts.append(f'"{escaped}"')
    line = " ".join(parts)
    # The Exec value is itself a desktop-entry string: its backslashes are escaped once more.
    return line.replace("\\", "\\\\")


def desktop_entry(command: Sequence[str]) -> str:
    """The text of the XDG autostart entry that runs ``command``."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={APP_NAME}\n"
        "Comment=Reads the clipboard, selections and documents aloud\n"
        f"Exec={exec_line(command)}\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "Categories=Utility;Accessibility;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def launch_agent(command: Sequence[str]) -> bytes:
    """The LaunchAgent property list that runs ``command`` at login."""
    plist = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(plist)


def start_at_login_enabled(platform: str | None = None) -> bool:
    """Whether VoxTray is set to start at login."""
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return _windows_run_value() is not None
    if platform == "darwin":
        return launch_agent_path().is_file()
    return desktop_entry_path().is_file()


def set_start_at_login(
    enabled: bool, *, command: Sequence[str] | None = None, platform: str | None = None
) -> None:
    """Turn starting at login on or off. Raises :class:`AutostartError`."""
    platform = sys.platform if platform is None else platform
    command = app_command() if command is None else list(command)
    try:
        if platform == "win32":
            _set_windows_run_value(subprocess.list2cmdline(command) if enabled else None)
        elif platform == "darwin":
            _write_or_remove(launch_agent_path(), launch_agent(command) if enabled else None)
        else:
            entry = desktop_entry(command).encode("utf-8") if enabled else None
            _write_or_remove(desktop_entry_path(), entry)
    except OSError as exc:
        what = "turned on" if enabled else "turned off"
        reason = exc.strerror or str(exc)
        raise AutostartError(f"Starting at login could not be {what} ({reason}).") from exc


def _write_or_remove(path: Path, data: bytes | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def _windows_run_value() -> str | None:  # pragma: no cover - Windows only
    import winreg  # type: ignore[import-not-found, unused-ignore]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            value, _ = winreg.QueryValueEx(key, APP_NAME)
    except FileNotFoundError:
        return None
    return str(value)


def _set_windows_run_value(value: str | None) -> None:  # pragma: no cover - Windows only
    import winreg  # type: ignore[import-not-found, unused-ignore]

    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
        if value is None:
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteValue(key, APP_NAME)
        else:
            winreg.SetValueEx(key, APP_NAME, 0, winreg.REG_SZ, value)
