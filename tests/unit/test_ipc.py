"""The single-instance channel over real Unix sockets in a private runtime directory."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from voxtray.core import ipc
from voxtray.core.errors import AlreadyRunningError, InstanceError, InstanceUnavailableError

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="Unix-domain sockets")


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``XDG_RUNTIME_DIR`` private to the test; the channel lives in ``<it>/voxtray``."""
    base = tmp_path / "run"
    base.mkdir(mode=0o700)
    base.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    return base / "voxtray"


class Recorder:
    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    async def __call__(self, command: dict[str, Any]) -> dict[str, Any]:
        self.commands.append(command)
        if command["cmd"] == "stats":
            return {"stats": {"total_requests": 3}}
        return {}


def send(command: dict[str, Any], **kwargs: Any) -> Any:
    return asyncio.to_thread(ipc.send_command, command, **kwargs)


@posix_only
async def test_round_trip(runtime: Path) -> None:
    handler = Recorder()
    async with ipc.InstanceServer(handler) as server:
        assert server.path == runtime / "voxtray.sock"
        reply = await send({"cmd": "speak", "text": "Hello there.", "interrupt": True})
        assert reply == {"ok": True}
        stats = await send({"cmd": "stats"})
        assert stats == {"ok": True, "stats": {"total_requests": 3}}
    assert handler.commands == [
        {"cmd": "speak", "text": "Hello there.", "interrupt": True},
        {"cmd": "stats"},
    ]
    assert not server.path.exists()


@posix_only
async def test_socket_is_0600_in_a_0700_directory(runtime: Path) -> None:
    async with ipc.InstanceServer(Recorder()) as server:
        info = server.path.lstat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert stat.S_IMODE(os.stat(runtime).st_mode) == 0o700


@posix_only
async def test_second_server_refuses_while_the_first_runs(runtime: Path) -> None:
    async with ipc.InstanceServer(Recorder()):
        with pytest.raises(AlreadyRunningError, match="already running"):
            await ipc.InstanceServer(Recorder()).start()
        assert await send({"cmd": "pause"}) == {"ok": True}  # the first one still serves
    async with ipc.InstanceServer(Recorder()):  # and after it ended, a new one may start
        assert await send({"cmd": "pause"}) == {"ok": True}


@posix_only
async def test_second_server_in_another_process_refuses(runtime: Path) -> None:
    code = (
        "import asyncio\n"
        "from voxtray.core import ipc\n"
        "from voxtray.core.errors import AlreadyRunningError\n"
        "async def handler(c): return {}\n"
        "async def main():\n"
        "    try:\n"
        "        await ipc.InstanceServer(handler).start()\n"
        "    except AlreadyRunningError as e:\n"
        "        print('refused:', e)\n"
        "asyncio.run(main())\n"
    )
    async with ipc.InstanceServer(Recorder()):
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.stdout.strip() == "refused: VoxTray is already running.", done.stderr


def leave_stale_socket(runtime: Path) -> None:
    """What a crashed instance leaves behind: a socket file nobody listens on."""
    runtime.mkdir(mode=0o700)
    path = runtime / "voxtray.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as crashed:
        crashed.bind(str(path))
    assert stat.S_ISSOCK(path.lstat().st_mode)


@posix_only
async def test_stale_socket_is_recovered(runtime: Path) -> None:
    leave_stale_socket(runtime)
    assert await send({"cmd": "stop"}) is None  # nobody listens: no instance
    handler = Recorder()
    async with ipc.InstanceServer(handler):
        assert await send({"cmd": "stop"}) == {"ok": True}
    assert handler.commands == [{"cmd": "stop"}]


@posix_only
async def test_no_instance_means_none(runtime: Path) -> None:
    assert await send({"cmd": "quit"}) is None


@posix_only
async def test_malformed_requests_get_an_error_reply(runtime: Path) -> None:
    handler = Recorder()
    async with ipc.InstanceServer(handler):
        unknown = await send({"cmd": "dance"})
        assert unknown["ok"] is False and "Unknown command 'dance'" in unknown["error"]
        both = await send({"cmd": "speak", "text": "a", "file": "/tmp/a.txt"})
        assert both == {"ok": False, "error": "speak needs exactly one of text and file."}
        relative = await send({"cmd": "speak", "file": "notes.txt"})
        assert relative["ok"] is False and "absolute" in relative["error"]
        rate = await send({"cmd": "speak", "text": "a", "rate": 9})
        assert rate["ok"] is False and "rate" in rate["error"]
        unit = await send({"cmd": "rewind", "unit": "page"})
        assert unit["ok"] is False and "paragraph" in unit["error"]
    assert handler.commands == []


@posix_only
async def test_a_failing_handler_is_reported_and_the_server_goes_on(runtime: Path) -> None:
    async def handler(command: dict[str, Any]) -> dict[str, Any]:
        if command["cmd"] == "skip":
            raise InstanceError("Nothing is playing.")
        if command["cmd"] == "stop":
            raise RuntimeError("boom")
        return {"done": command["cmd"]}

    async with ipc.InstanceServer(handler):
        assert await send({"cmd": "skip"}) == {"ok": False, "error": "Nothing is playing."}
        failed = await send({"cmd": "stop"})
        assert failed["ok"] is False and "boom" in failed["error"]
        assert await send({"cmd": "pause"}) == {"ok": True, "done": "pause"}


@posix_only
async def test_several_requests_on_one_connection(runtime: Path) -> None:
    async with ipc.InstanceServer(Recorder()) as server:
        reader, writer = await asyncio.open_unix_connection(str(server.path))
        for name in ("pause", "resume", "skip"):
            writer.write(ipc.encode({"cmd": name}))
        writer.write(ipc.encode({"cmd": "rewind", "unit": "paragraph"}))
        await writer.drain()
        replies = [await reader.readline() for _ in range(4)]
        writer.close()
        await writer.wait_closed()
    assert replies == [b'{"ok":true}\n'] * 4


@posix_only
def test_peer_credentials_report_our_uid() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert ipc.peer_uid(left) == os.geteuid()


def test_only_the_same_uid_is_allowed() -> None:
    assert ipc.peer_allowed(1000, 1000)
    assert not ipc.peer_allowed(1001, 1000)
    assert not ipc.peer_allowed(0, 1000)  # root is another user too
    assert ipc.peer_allowed(None, 1000)  # the OS cannot tell: the 0600 socket decides


@posix_only
async def test_a_peer_of_another_uid_is_disconnected(runtime: Path) -> None:
    """The server believes it runs as another uid, so this (real) client is a stranger."""
    handler = Recorder()
    async with ipc.InstanceServer(handler, uid=os.geteuid() + 1) as server:
        with pytest.raises(InstanceError, match="closed the connection"):
            await send({"cmd": "quit"})
        assert server.refused == 1
    assert handler.commands == []


@posix_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to su")
async def test_another_user_cannot_reach_the_socket(runtime: Path) -> None:
    """A real other user (nobody) is kept out by the 0700 directory and the 0600 socket."""
    code = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except PermissionError:\n"
        "    print('denied')\n"
        "else:\n"
        "    print('connected')\n"
    )
    runtime.parent.chmod(0o755)  # nobody may walk into XDG_RUNTIME_DIR, not into ours
    async with ipc.InstanceServer(Recorder()) as server:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", code, str(server.path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.stdout.strip() == "denied", done.stderr


@posix_only
async def test_a_socket_of_another_user_is_not_used(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ipc.InstanceServer(Recorder()):
        monkeypatch.setattr(ipc, "_own_uid", lambda: os.geteuid() + 1)
        with pytest.raises(InstanceError, match="belongs to another user"):
            await send({"cmd": "stop"})


windows_only = pytest.mark.skipif(
    sys.platform != "win32",
    reason=f"Windows named pipes and mutexes: the platform is missing here ({sys.platform})",
)


@windows_only
async def test_windows_round_trip_over_the_users_pipe_and_one_instance() -> None:
    from voxtray.core import named_pipe

    assert ipc.send_command({"cmd": "stop"}) is None  # nobody serves the pipe yet
    handler = Recorder()
    async with ipc.InstanceServer(handler):
        reply = await send({"cmd": "speak", "text": "Hello there.", "interrupt": True})
        assert reply == {"ok": True}
        assert await send({"cmd": "stats"}) == {"ok": True, "stats": {"total_requests": 3}}
        assert await send({"cmd": "nonsense"}) == {
            "ok": False,
            "error": "Unknown command 'nonsense'; known: " + ", ".join(sorted(ipc.COMMANDS)) + ".",
        }
        with pytest.raises(AlreadyRunningError):
            await ipc.InstanceServer(Recorder()).start()
        api = named_pipe._Api()
        user = api.current_user_sid()
        kernel32 = api.kernel32
        synchronize = 0x00100000
        held = kernel32.OpenMutexW(synchronize, False, ipc.INSTANCE_MUTEX)  # as Inno Setup does
        assert held, "the installer would not see the running app"
        kernel32.CloseHandle(held)
        assert named_pipe.pipe_name(user).startswith(named_pipe.PIPE_PREFIX)
    assert handler.commands[:2] == [
        {"cmd": "speak", "text": "Hello there.", "interrupt": True},
        {"cmd": "stats"},
    ]
    assert ipc.send_command({"cmd": "stop"}) is None  # closed: the pipe is gone


def test_off_windows_the_pipe_transport_says_it_is_unavailable() -> None:
    if sys.platform == "win32":
        pytest.skip("checks the refusal off Windows")
    from voxtray.core import named_pipe

    with pytest.raises(InstanceUnavailableError, match="only on Windows"):
        named_pipe.PipeListener(Recorder(), limit=1024).start()  # type: ignore[arg-type]
    with pytest.raises(InstanceUnavailableError, match="only on Windows"):
        asyncio.run(named_pipe.exchange(b"{}\n", limit=1024))
    with pytest.raises(InstanceUnavailableError, match="only on Windows"):
        named_pipe.InstanceMutex(ipc.INSTANCE_MUTEX).acquire()


@posix_only
async def test_closing_ends_idle_connections_and_delivers_the_quit_reply(
    runtime: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As in the app: ``quit`` makes the owner close the server while it answers."""
    quitting = asyncio.Event()

    async def handler(command: dict[str, Any]) -> dict[str, Any]:
        if command["cmd"] == "quit":
            quitting.set()
            await asyncio.sleep(0)  # the owner runs aclose() before this reply is written
        return {}

    server = ipc.InstanceServer(handler)
    await server.start()
    idle_reader, idle_writer = await asyncio.open_unix_connection(str(server.path))
    reply = asyncio.ensure_future(send({"cmd": "quit"}))
    await quitting.wait()
    await asyncio.wait_for(server.aclose(), timeout=5)
    assert await reply == {"ok": True}
    assert await idle_reader.read() == b""  # the idle client saw the end of the stream
    idle_writer.close()
    assert not server.path.exists()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@posix_only
async def test_a_channel_that_cannot_open_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    """A runtime path too long for a Unix socket (108 bytes on Linux): the app goes on without
    the channel, and says why."""
    deep = tmp_path / ("d" * 120)
    deep.mkdir(mode=0o700)
    server = ipc.InstanceServer(Recorder(), directory=deep)
    with pytest.raises(InstanceUnavailableError, match="could not be opened"):
        await server.start()
    ipc._take_lock(deep / ipc.LOCK_NAME).close()  # the failed start let go of its lock
