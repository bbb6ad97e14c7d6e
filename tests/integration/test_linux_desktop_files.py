"""The Linux desktop files pass Debian's validators, and the icons exist at every size.

desktop-file-validate (desktop-file-utils) and appstreamcli (appstream) are installed by
`make test` (packaging/linux-deps.sh --test). The installer script is run into a temporary
XDG_DATA_HOME and its result validated too.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from voxtray.desktop.autostart import desktop_entry

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "resources" / "linux"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
DESKTOP = next(LINUX.glob("*.desktop"))
APP_ID = DESKTOP.stem


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make test` (it installs it).", pytrace=False)
    return path


def _validate_desktop(path: Path) -> None:
    done = subprocess.run(
        [_tool("desktop-file-validate"), str(path)], capture_output=True, text=True, check=False
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "error" not in report.lower(), report
    assert "warning" not in report.lower(), report


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_desktop_file_is_valid() -> None:
    _validate_desktop(DESKTOP)


def test_desktop_file_validator_catches_a_broken_entry(tmp_path: Path) -> None:
    broken = tmp_path / f"{APP_ID}.desktop"
    broken.write_text(DESKTOP.read_text().replace("Type=Application\n", ""))
    with pytest.raises(AssertionError):
        _validate_desktop(broken)


def test_autostart_entry_written_by_the_setting_is_valid(tmp_path: Path) -> None:
    entry = tmp_path / "voxtray.desktop"
    entry.write_text(desktop_entry(["/opt/Vox Tray/voxtray", "--flag=50%"]))
    _validate_desktop(entry)


def test_appstream_metainfo_is_valid() -> None:
    metainfo = LINUX / f"{APP_ID}.metainfo.xml"
    done = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", "--explain", str(metainfo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_icons_exist_at_every_hicolor_size() -> None:
    for size in SIZES:
        icon = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert icon.is_file(), f"{icon.relative_to(ROOT)} is missing (packaging/render_icons.py)"
        assert _png_size(icon) == (size, size), icon
        assert icon.stat().st_size < 16_000, f"{icon} is not small"
    scalable = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"
    assert scalable.read_text().lstrip().startswith("<svg")


def test_windows_icon_holds_each_size() -> None:
    data = (ROOT / "resources" / "icons" / "voxtray.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = set()
    for index in range(count):
        edge, _h, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index : 22 + 16 * index]
        )
        image = data[offset : offset + length]
        assert image[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", image[16:24]) == (edge or 256, edge or 256)
        sizes.add(edge or 256)
    assert sizes == {16, 24, 32, 48, 64, 128, 256}


def test_install_script_installs_valid_files_and_removes_them(tmp_path: Path) -> None:
    data = tmp_path / "share"
    env = {**os.environ, "XDG_DATA_HOME": str(data), "HOME": str(tmp_path)}
    command = "/opt/Vox Tray/voxtray"
    script = ROOT / "packaging" / "install-linux.sh"
    subprocess.run([str(script), "--exec", command], env=env, check=True, capture_output=True)
    installed = data / "applications" / f"{APP_ID}.desktop"
    _validate_desktop(installed)
    execs = [line for line in installed.read_text().splitlines() if line.startswith("Exec=")]
    assert execs and all(line.startswith(f'Exec="{command}"') for line in execs)
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    subprocess.run([str(script), "--uninstall"], env=env, check=True, capture_output=True)
    left = [p for p in data.rglob("*") if p.is_file() and APP_ID in p.name]
    assert left == []
