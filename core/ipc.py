"""The single-instance channel: one tray app per user, and a way for other processes to reach it.

The tray app serves a Unix-domain socket, ``runtime_dir()/"voxtray.sock"``; ``voxtray speak``,
``voxtray quit`` and a second ``voxtray`` hand their request to it instead of opening a second
sound card stream. Only the same user can use the channel, checked three times over:

* the runtime directory is ``0700`` and ours (:func:`~.paths.ensure_dir` refuses one planted by
  someone else), and the socket file is ``0600``;
* the server asks the kernel who the peer is (``SO_PEERCRED`` on Linux, ``LOCAL_PEERCRED`` on
  macOS and the BSDs) and closes connections from any other uid, root included;
* the client refuses a socket file that another user owns.

Two servers never race: the server first takes an exclusive ``flock`` on
``runtime_dir()/"voxtray.lock"``, held for its whole life (the kernel drops it when the process
dies, however it dies). Holding the lock, a socket file left by a crashed instance is recognised
by a refused connection, removed, and bound again.

Protocol: newline-delimited JSON, one object per line, UTF-8. Each request gets exactly one
reply, ``{"ok": true, ...}`` or ``{"ok": false, "error": "a sentence for the user"}``. Requests::

    {"cmd": "speak", "text": "…"}            or "file": "/absolute/path"; optional "interrupt":
                                             bool, "rate": number, "voice": "provider:voice"
    {"cmd": "stop"} {"cmd": "pause"} {"cmd": "resume"}
    {"cmd": "skip"} {"cmd": "rewind"}        optional "unit": "sentence" (default), "paragraph"
                                             or "chapter"
    {"cmd": "read-clipboard"}                read the clipboard (or selection) as the hotkey does
    {"cmd": "show"}                          show the drop window (a second ``voxtray``)
    {"cmd": "stats"}                         reply carries "stats": the snapshot as a dict
    {"cmd": "quit"}

On Windows the same protocol runs over a named pipe of the user's own (:mod:`.named_pipe`):
its DACL lets only the current user in, the client refuses a pipe another user owns, the first
pipe instance decides who runs, and the server holds the :data:`INSTANCE_MUTEX` the installer
waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import stat
import struct
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from .errors import AlreadyRunningError, InstanceError, InstanceUnavailableError, VoxTrayError
from .paths import PRIVATE_FILE_MODE, ensure_dir, runtime_dir

_LOG = logging.getLogger(__name__)

SOCKET_NAME = "voxtray.sock"
LOCK_NAME = "voxtray.lock"
INSTANCE_MUTEX = "VoxTray.SingleInstance"
"""The name of the Windows mutex that says "VoxTray runs in this session". The installer's
``AppMutex`` (installer.iss, injected by packaging/build.py from here) waits for it to be gone
before it replaces or removes the files. The server holds it while it runs (:mod:`.named_pipe`)."""
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Longest request line: text of that size is a book; longer input goes by ``file``."""
DEFAULT_TIMEOUT = 5.0

COMMANDS = frozenset(
    {"speak", "stop", "pause", "resume", "skip", "rewind", "read-clipboard", "show", "stats"}
    | {"quit"}
)
UNITS = frozenset({"sentence", "paragraph", "chapter"})
"""What ``skip`` and ``rewind`` move by (``"unit"``, default ``"sentence"``)."""

Command = dict[str, Any]
Reply = dict[str, Any]
CommandHandler = Callable[[Command], Awaitable[Reply]]
"""Called on the loop with a validated command; returns the reply (``ok`` is added if absent).
A :class:`~.errors.VoxTrayError` it raises becomes ``{"ok": false, "error": str(error)}``."""

WINDOWS = sys.platform == "win32"
"""The channel is a named pipe (:mod:`.named_pipe`), not a Unix-domain socket."""


class CommandError(ValueError):
    """A request that does not follow the protocol; ``str()`` is the reply's error."""


def socket_path(directory: Path | None = None) -> Path:
    return (directory or runtime_dir()) / SOCKET_NAME


# -- messages -----------------------------------------------------------------------------------


def parse_command(line: bytes) -> Command:
    """Decode and validate one request line. Raises :class:`CommandError`."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError("The request is not JSON.") from exc
    if not isinstance(data, dict):
        raise CommandError("The request is not a JSON object.")
    name = data.get("cmd")
    if not isinstance(name, str) or name not in COMMANDS:
        raise CommandError(f"Unknown command {name!r}; known: {', '.join(sorted(COMMANDS))}.")
    if name == "speak":
        _check_speak(data)
    if name in ("skip", "rewind") and data.get("unit", "sentence") not in UNITS:
        raise CommandError(f"{name}: unit must be one of {', '.join(sorted(UNITS))}.")
    return data


def _check_speak(data: Command) -> None:
    text, file = data.get("text"), data.get("file")
    if (text is None) == (file is None):
        raise CommandError("speak needs exactly one of text and file.")
    if text is not None and not isinstance(text, str):
        raise CommandError("speak: text must be a string.")
    if file is not None and not (isinstance(file, str) and os.path.isabs(file)):
        raise CommandError("speak: file must be an absolute path.")
    if not isinstance(data.get("interrupt", False), bool):
        raise CommandError("speak: interrupt must be true or false.")
    rate = data.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise CommandError("speak: rate must be a number.")
    if not 0.25 <= rate <= 4.0:
        raise CommandError(f"speak: rate must be between 0.25 and 4, not {rate:g}.")
    if data.get("voice") is not None and not isinstance(data["voice"], str):
        raise CommandError("speak: voice must be a string such as piper:en_US-joe-medium.")


def encode(message: Command | Reply) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# -- peer credentials ---------------------------------------------------------------------------


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a connected Unix socket, if the OS says."""
    try:
        if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid_t; uid_t; gid_t}
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return int(struct.unpack("3i", raw)[1])
        if sys.platform == "darwin" or "bsd" in sys.platform:
            # struct xucred {u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t[16]}
            sol_local, local_peercred = 0, 0x001
            raw = sock.getsockopt(sol_local, local_peercred, struct.calcsize("2I") + 2 + 4 * 16)
            return int(struct.unpack_from("2I", raw)[1])
    except OSError:
        return None
    return None


def peer_allowed(uid: int | None, own_uid: int) -> bool:
    """Only the same user may talk to the instance; root gets no exception.

    ``None`` (the OS cannot tell) is allowed: the ``0600`` socket in a ``0700`` directory of
    ours already keeps other users out, the credential check is the second lock on the door.
    """
    return uid is None or uid == own_uid


def _own_uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


# -- server -------------------------------------------------------------------------------------


class InstanceServer:
    """Serves the channel while the tray app runs. ``start()``, then ``aclose()`` (or ``async
    with``). Raises :class:`AlreadyRunningError` if another instance of this user serves it."""

    def __init__(
        self,
        handler: CommandHandler,
        *,
        directory: Path | None = None,
        uid: int | None = None,
    ) -> None:
        self._handler = handler
        self._directory = directory
        self._uid = _own_uid() if uid is None else uid
        self._server: asyncio.Server | None = None
        self._lock: IO[bytes] | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._busy: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of our socket file
        self._pipe: Any = None  # Windows: the named_pipe.PipeListener
        self._mutex: Any = None  # Windows: the named_pipe.InstanceMutex
        self.refused = 0
        """Connections closed because the peer was another user."""

    @property
    def path(self) -> Path:
        return socket_path(self._directory)

    async def start(self) -> None:
        """Serve the channel; :class:`AlreadyRunningError` if another instance serves it,
        :class:`InstanceUnavailableError` if it cannot be opened at all (the app then runs
        without it: a second ``voxtray`` would start a second app, which it says)."""
        if WINDOWS:
            self._start_pipe()
            return
        try:
            await self._start_socket()
        except OSError as exc:  # a path too long for AF_UNIX, a runtime dir not ours…
            raise InstanceUnavailableError(
                f"The single-instance channel could not be opened ({exc}): a second VoxTray "
                "will run on its own."
            ) from exc

    async def _start_socket(self) -> None:
        directory = ensure_dir(self._directory or runtime_dir())
        self._lock = _take_lock(directory / LOCK_NAME)
        try:
            path = directory / SOCKET_NAME
            _remove_stale(path)
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(path), limit=MAX_MESSAGE_BYTES
            )
            os.chmod(path, PRIVATE_FILE_MODE)  # the 0700 directory covers the instant before
            info = path.stat()
            self._bound = (info.st_dev, info.st_ino)
        except BaseException:
            self._release_lock()
            raise
        _LOG.debug("Serving the single-instance channel at %s", path)

    def _start_pipe(self) -> None:
        from .named_pipe import InstanceMutex, PipeListener

        mutex = InstanceMutex(INSTANCE_MUTEX)
        try:
            mutex.acquire()
            listener = PipeListener(self._serve, limit=MAX_MESSAGE_BYTES)
            listener.start()
        except OSError as exc:
            mutex.release()
            raise InstanceUnavailableError(
                f"The single-instance channel could not be opened ({exc}): a second VoxTray "
                "will run on its own."
            ) from exc
        except BaseException:
            mutex.release()
            raise
        self._pipe, self._mutex = listener, mutex
        _LOG.debug("Serving the single-instance channel at %s", listener.name)

    async def aclose(self, grace: float = 2.0) -> None:
        """Stop listening, end open connections, remove the socket file, release the lock.

        A connection waiting for its next request is closed at once; one whose request is being
        answered (``quit`` itself) gets up to ``grace`` seconds to deliver the reply. The
        connection tasks are asyncio's (``start_unix_server`` creates them) but they end here:
        by closing their transport, so they return on their own, and are awaited.
        """
        self._closing = True
        server, self._server = self._server, None
        if server is not None:
            server.close()
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.close()
        for task, writer in list(self._connections.items()):
            if task not in self._busy:
                writer.close()  # its readuntil() sees the end of the stream and returns
        if self._connections:
            _, late = await asyncio.wait(list(self._connections), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if server is not None:
            await server.wait_closed()
            self._unlink_own_socket()
        self._release_lock()
        mutex, self._mutex = self._mutex, None
        if mutex is not None:
            mutex.release()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            sock = writer.get_extra_info("socket")  # None on a pipe: its DACL admits the user
            uid = peer_uid(sock) if sock is not None else None
            if not peer_allowed(uid, self._uid):
                self.refused += 1
                _LOG.warning("Refused a single-instance connection from uid %s", uid)
                return
            while not self._closing:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    return  # the client is done, or aclose() closed the connection
                except asyncio.LimitOverrunError:
                    writer.write(encode(_failure("The request is too long; send a file.")))
                    await writer.drain()
                    return
                self._busy.add(task)
                try:
                    writer.write(encode(await self._answer(line)))
                    await writer.drain()
                finally:
                    self._busy.discard(task)
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            del self._connections[task]

    async def _answer(self, line: bytes) -> Reply:
        try:
            command = parse_command(line)
        except CommandError as error:
            return _failure(str(error))
        try:
            reply = await self._handler(command)
        except VoxTrayError as error:
            return _failure(str(error))
        except Exception as exc:  # the app must survive a bad request; the client is told
            _LOG.exception("The %s command failed", command["cmd"])
            return _failure(f"The {command['cmd']} command failed: {exc}")
        return {"ok": True, **reply}

    def _unlink_own_socket(self) -> None:
        path = self.path
        with contextlib.suppress(OSError):
            info = path.lstat()
            if (info.st_dev, info.st_ino) == self._bound:
                path.unlink()
        self._bound = None

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # closing the descriptor drops the flock


def _failure(message: str) -> Reply:
    return {"ok": False, "error": message}


def _take_lock(path: Path) -> IO[bytes]:
    import fcntl  # POSIX only; this module is imported on Windows too

    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    lock = os.fdopen(fd, "r+b")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise AlreadyRunningError("VoxTray is already running.") from None
    except BaseException:
        lock.close()
        raise
    return lock


def _remove_stale(path: Path) -> None:
    """Holding the lock: remove a socket file nobody serves (left by a crash)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(info.st_mode):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(str(path))
            except OSError:
                pass  # refused: stale
            else:
                raise AlreadyRunningError("VoxTray is already running.")
    _LOG.info("Removing the stale single-instance socket %s", path)
    path.unlink()


# -- client -------------------------------------------------------------------------------------


def send_command(
    command: Command,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    directory: Path | None = None,
) -> Reply | None:
    """Send one command to the running tray app and return its reply.

    ``None`` when no instance runs (no socket, or nobody listening). Raises
    :class:`~.errors.InstanceError` when an instance is there but the exchange fails: the
    socket belongs to another user, no answer within ``timeout`` seconds, or a malformed reply.
    Blocking on purpose: the CLI calls it before it has an event loop.
    """
    if WINDOWS:
        data = _exchange_over_pipe(command, timeout)
        return None if data is None else _reply(data)
    path = socket_path(directory)
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode):
        return None
    if info.st_uid != _own_uid():
        raise InstanceError(f"{path} belongs to another user; it was not used.")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None  # a socket file left by a crash
        except PermissionError as exc:
            raise InstanceError(f"{path} cannot be used (permission denied).") from exc
        except TimeoutError:
            data = None
        else:
            data = _exchange(sock, command)
    if data is None:
        raise InstanceError(f"The running VoxTray did not answer within {timeout:g} s.")
    return _reply(data)


def _reply(data: bytes) -> Reply:
    if not data:
        raise InstanceError("The running VoxTray closed the connection without answering.")
    try:
        reply = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InstanceError("The running VoxTray sent a reply that is not JSON.") from exc
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise InstanceError("The running VoxTray sent a malformed reply.")
    return reply


def _exchange_over_pipe(command: Command, timeout: float) -> bytes | None:
    """Windows: the reply line over this user's pipe; ``None`` when no instance serves it."""
    from .named_pipe import exchange

    async def bounded() -> bytes | None:
        async with asyncio.timeout(timeout):
            return await exchange(encode(command), limit=MAX_MESSAGE_BYTES)

    try:
        return asyncio.run(bounded())
    except TimeoutError as exc:
        raise InstanceError(f"The running VoxTray did not answer within {timeout:g} s.") from exc
    except OSError as exc:
        raise InstanceError(f"The running VoxTray could not be reached: {exc}.") from exc


def _exchange(sock: socket.socket, command: Command) -> bytes | None:
    """Send the request, read the reply line: ``b""`` if the server hung up, None on timeout."""
    try:
        sock.sendall(encode(command))
        return _read_line(sock)
    except TimeoutError:
        return None
    except (ConnectionResetError, BrokenPipeError):
        return b""  # a refused peer: the server hung up on us
    except OSError as exc:
        raise InstanceError(f"The running VoxTray could not be reached: {exc}.") from exc


def _read_line(sock: socket.socket) -> bytes:
    buffer = bytearray()
    while b"\n" not in buffer:
        block = sock.recv(65536)
        if not block:
            return b""
        buffer += block
        if len(buffer) > MAX_MESSAGE_BYTES:
            raise InstanceError("The running VoxTray sent a reply that is too long.")
    return bytes(buffer[: buffer.index(b"\n")])
