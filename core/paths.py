"""Where VoxTray keeps its files, and how it writes them.

Every directory comes from platformdirs, so the app lands where each platform expects it
(``~/.config/voxtray`` on Linux, ``~/Library/Application Support/voxtray`` on macOS,
``%LOCALAPPDATA%\\voxtray`` on Windows — no vendor folder, hence ``appauthor=False``). On Linux
the ``XDG_*`` variables are honoured, which is also how the tests give every run its own tree.

Nothing here creates a directory when it is imported or asked for a path: only
:func:`ensure_dir` and :func:`atomic_write` touch the disk, so importing the engine has no side
effects and a read-only run (``voxtray --help``) leaves nothing behind.

The files hold private things (what the user had read aloud, cached speech, the IPC socket), so
directories are created ``0700`` and files ``0600``.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "voxtray"
SETTINGS_FILE_NAME = "settings.toml"
LAST_STATS_FILE_NAME = "last-session-stats.json"

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def config_dir() -> Path:
    """The user's configuration directory for VoxTray (settings)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Where data that can be rebuilt lives (the audio cache)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Where the user's own data lives: extra Piper voices go in ``data_dir()/"voices"``."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def state_dir() -> Path:
    """Where data worth keeping between runs, but not configuration, lives (last stats, logs)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def runtime_dir() -> Path:
    """Where files that live only while the app runs go (the single-instance socket).

    On Windows and macOS platformdirs always has an answer. On the XDG platforms the answer
    depends on the session: ``$XDG_RUNTIME_DIR`` (or ``/run/user/<uid>``) exists under systemd
    logins but not in containers, over plain ``su`` or in some CI runners, and the platformdirs
    releases we accept (>= 4.2) disagree on what to do then (older ones return a path that does
    not exist, newer ones pick their own fallback and warn). So we decide here: a base directory
    is used only if it is absolute, a real directory, ours, and ``0700`` as the XDG spec demands;
    otherwise the app gets a per-user directory in the temp dir, which :func:`ensure_dir`
    creates ``0700`` and refuses to use if another user planted it first.
    """
    if sys.platform == "win32" or sys.platform == "darwin":
        return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
    for base in (os.environ.get("XDG_RUNTIME_DIR", ""), _system_runtime_base()):
        if base and os.path.isabs(base) and _is_private_dir(Path(base)):
            return Path(base) / APP_NAME
    return Path(tempfile.gettempdir()) / f"{APP_NAME}-{_user_id()}"


def settings_file() -> Path:
    """The settings file, ``config_dir() / "settings.toml"``."""
    return config_dir() / SETTINGS_FILE_NAME


def last_stats_file() -> Path:
    """Where the statistics of the last session are saved for ``voxtray stats``."""
    return state_dir() / LAST_STATS_FILE_NAME


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) if needed; return it.

    A directory created here gets mode ``0700`` exactly, whatever the umask. An existing
    directory keeps its mode (the user may have chosen it) but must belong to the current user:
    in a shared place such as ``/tmp`` another user could have created it first to read or
    replace what we put there. Missing parents get the platform's usual mode, like
    ``mkdir -p``.

    Raises :class:`NotADirectoryError` if something else is in the way and
    :class:`PermissionError` if the directory belongs to someone else; callers translate these
    into the engine's own errors where they know what the directory was for.
    """
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
    except FileExistsError:
        pass
    else:
        if sys.platform != "win32":
            path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is filtered through the umask
    if not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a directory")
    if not _owned_by_me(path.stat()):
        raise PermissionError(f"{path} belongs to another user")
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new one, whole.

    The bytes go to a temporary file beside the target (same file system, so the rename is
    atomic), are flushed to disk, then renamed over it: a crash or a full disk mid-write never
    leaves a truncated settings file. The file is ``0600``; its directory is made with
    :func:`ensure_dir`. Raises :class:`OSError`; the temporary file never outlives a failure.
    """
    directory = ensure_dir(path.parent)
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            if sys.platform != "win32":
                os.fchmod(stream.fileno(), PRIVATE_FILE_MODE)  # mkstemp says 0600; make it certain
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _system_runtime_base() -> str:
    """The runtime directory logind gives a user session, when there is one."""
    return f"/run/user/{_user_id()}"


def _is_private_dir(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and _owned_by_me(info)
        and stat.S_IMODE(info.st_mode) == PRIVATE_DIR_MODE
    )


if sys.platform == "win32":
    # Windows has no uids; its per-user folders are protected by ACLs instead.

    def _user_id() -> int:
        return 0

    def _owned_by_me(info: os.stat_result) -> bool:
        return True

else:

    def _user_id() -> int:
        return os.geteuid()

    def _owned_by_me(info: os.stat_result) -> bool:
        return info.st_uid == os.geteuid()
