"""Start at login: the XDG autostart entry for real (in a temp config dir), the others' files."""

from __future__ import annotations

import configparser
import plistlib
import shlex
import sys
from pathlib import Path

import pytest
from voxtray.desktop import autostart
from voxtray.desktop.autostart import (
    AutostartError,
    desktop_entry,
    desktop_entry_path,
    exec_line,
    launch_agent,
    set_start_at_login,
    start_at_login_enabled,
)


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "config"


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_the_linux_entry_is_written_and_removed(config_home: Path) -> None:
    command = ["/opt/Vox Tray/bin/python3", "-m", "voxtray.desktop"]
    assert not start_at_login_enabled("linux")
    set_start_at_login(True, command=command, platform="linux")
    path = config_home / "autostart" / "voxtray.desktop"
    assert desktop_entry_path() == path
    assert start_at_login_enabled("linux")
    entry = read_entry(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "VoxTray"
    assert entry["Exec"] == '"/opt/Vox Tray/bin/python3" -m voxtray.desktop'
    assert shlex.split(entry["Exec"]) == command
    set_start_at_login(False, command=command, platform="linux")
    assert not path.exists() and not start_at_login_enabled("linux")
    set_start_at_login(False, command=command, platform="linux")  # off twice is fine


def test_without_xdg_config_home_the_entry_goes_to_dot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert desktop_entry_path() == tmp_path / ".config" / "autostart" / "voxtray.desktop"
    # A relative XDG_CONFIG_HOME is invalid per the spec and ignored.
    assert desktop_entry_path({"XDG_CONFIG_HOME": "rel"}) == desktop_entry_path({})


def test_exec_quoting_follows_the_desktop_entry_spec() -> None:
    assert exec_line(["/usr/bin/voxtray"]) == "/usr/bin/voxtray"
    assert exec_line(["/a b/py", "50%"]) == '"/a b/py" 50%%'
    # Inside quotes, " ` $ \\ are escaped with a backslash, and backslashes once more for
    # the string value itself.
    assert exec_line(['C:\\x "y"']) == '"C:\\\\\\\\x \\\\"y\\\\""'
    assert "Exec=/usr/bin/voxtray\n" in desktop_entry(["/usr/bin/voxtray"])


def test_the_default_command_runs_this_python_on_the_desktop_package() -> None:
    assert autostart.app_command() == [sys.executable, "-m", "voxtray.desktop"]


def test_the_macos_launch_agent(config_home: Path) -> None:
    data = plistlib.loads(launch_agent(["/Applications/VoxTray.app/Contents/MacOS/VoxTray"]))
    assert data == {
        "Label": "org.voxtray.VoxTray",
        "ProgramArguments": ["/Applications/VoxTray.app/Contents/MacOS/VoxTray"],
        "RunAtLoad": True,
        "ProcessType": "Interactive",
    }
    set_start_at_login(True, command=["/x"], platform="darwin")
    agent = Path.home() / "Library" / "LaunchAgents" / "org.voxtray.VoxTray.plist"
    assert plistlib.loads(agent.read_bytes())["ProgramArguments"] == ["/x"]
    assert start_at_login_enabled("darwin")
    set_start_at_login(False, platform="darwin")
    assert not agent.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_failure_is_an_autostart_error_with_a_reason(config_home: Path) -> None:
    config_home.mkdir()
    (config_home / "autostart").write_text("a file where the directory should be")
    with pytest.raises(AutostartError, match="could not be turned on"):
        set_start_at_login(True, command=["/x"], platform="linux")


@pytest.mark.skipif(sys.platform != "win32", reason="the HKCU Run key needs Windows")
def test_the_windows_run_key() -> None:  # pragma: no cover - Windows only
    set_start_at_login(True, command=["C:\\Program Files\\VoxTray\\VoxTray.exe"])
    try:
        assert start_at_login_enabled()
    finally:
        set_start_at_login(False)
    assert not start_at_login_enabled()
