"""Platform directories, private directory creation and atomic writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from voxtray.core import paths

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG layout")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and owners")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CONFIG", "CACHE", "STATE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    return tmp_path


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


@linux_only
def test_directories_follow_xdg_variables(xdg: Path) -> None:
    assert paths.config_dir() == xdg / "config" / "voxtray"
    assert paths.cache_dir() == xdg / "cache" / "voxtray"
    assert paths.state_dir() == xdg / "state" / "voxtray"
    assert paths.settings_file() == xdg / "config" / "voxtray" / "settings.toml"
    assert paths.last_stats_file() == xdg / "state" / "voxtray" / "last-session-stats.json"


@linux_only
def test_asking_for_paths_creates_nothing(xdg: Path) -> None:
    paths.config_dir(), paths.cache_dir(), paths.state_dir(), paths.settings_file()
    assert list(xdg.iterdir()) == []


@linux_only
def test_importing_the_engine_modules_creates_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")}
    env |= {f"XDG_{n}_HOME": str(tmp_path / n.lower()) for n in ("CONFIG", "CACHE", "STATE")}
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    code = "import voxtray.core.paths, voxtray.core.settings, voxtray.core.stats"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert list(tmp_path.iterdir()) == []


@linux_only
def test_runtime_dir_uses_a_private_xdg_runtime_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "run"
    base.mkdir(mode=0o700)
    base.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    assert paths.runtime_dir() == base / "voxtray"


@pytest.fixture
def no_session_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No usable runtime dir from the session; temp files go to ``tmp_path / "tmp"``."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(paths, "_system_runtime_base", lambda: str(tmp_path / "no-such-dir"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return temp


@linux_only
def test_runtime_dir_falls_back_to_a_per_user_temp_dir(no_session_runtime: Path) -> None:
    expected = no_session_runtime / f"voxtray-{os.geteuid()}"
    assert paths.runtime_dir() == expected
    assert not expected.exists()
    paths.ensure_dir(expected)
    assert mode_of(expected) == 0o700


@linux_only
@pytest.mark.parametrize("problem", ["group-readable", "relative", "symlink", "file"])
def test_runtime_dir_ignores_an_unsafe_xdg_runtime_dir(
    problem: str, tmp_path: Path, no_session_runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    real.chmod(0o700)
    if problem == "group-readable":
        real.chmod(0o750)
        value = str(real)
    elif problem == "relative":
        monkeypatch.chdir(tmp_path)
        value = "real"
    elif problem == "symlink":
        (tmp_path / "link").symlink_to(real)
        value = str(tmp_path / "link")
    else:
        (tmp_path / "file").write_text("")
        value = str(tmp_path / "file")
    monkeypatch.setenv("XDG_RUNTIME_DIR", value)
    assert paths.runtime_dir() == no_session_runtime / f"voxtray-{os.geteuid()}"


@posix_only
@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277])
@pytest.mark.usefixtures("umask")
def test_ensure_dir_creates_private_directories_whatever_the_umask(
    mask: int, tmp_path: Path
) -> None:
    os.umask(mask)  # 0o277 would leave the owner unable to write: mkdir's mode is not enough
    target = tmp_path / "private"
    assert paths.ensure_dir(target) == target
    assert target.is_dir()
    assert mode_of(target) == 0o700


@posix_only
def test_ensure_dir_creates_missing_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    paths.ensure_dir(target)
    assert target.is_dir()
    assert mode_of(target) == 0o700


@posix_only
def test_ensure_dir_leaves_an_existing_directory_as_it_is(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    target.chmod(0o755)
    (target / "keep").write_text("x")
    paths.ensure_dir(target)
    assert mode_of(target) == 0o755
    assert (target / "keep").read_text() == "x"


def test_ensure_dir_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "thing").write_text("x")
    with pytest.raises(NotADirectoryError):
        paths.ensure_dir(tmp_path / "thing")


@posix_only
def test_ensure_dir_refuses_a_directory_of_another_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = tmp_path / "planted"
    planted.mkdir()
    someone_else = planted.stat().st_uid + 1
    monkeypatch.setattr(os, "geteuid", lambda: someone_else)
    with pytest.raises(PermissionError, match="another user"):
        paths.ensure_dir(planted)


@posix_only
def test_atomic_write_creates_a_private_file_and_its_directory(tmp_path: Path) -> None:
    target = tmp_path / "new" / "file.bin"
    paths.atomic_write(target, b"\x00hello")
    assert target.read_bytes() == b"\x00hello"
    assert mode_of(target) == 0o600
    assert mode_of(target.parent) == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]


def test_atomic_write_replaces_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_bytes(b"old and longer")
    paths.atomic_write(target, b"new")
    assert target.read_bytes() == b"new"


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file.txt"
    target.write_bytes(b"old")

    def fail(src: str, dst: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        paths.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]
