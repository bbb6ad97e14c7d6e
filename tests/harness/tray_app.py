"""The tray app started as a user starts it, on a private desktop, with a private sound server.

Shared by the system test (tests/system/test_tray_app.py) and the tray benchmark
(bench/tray.py), so that what the benchmark measures is the app the test checks. The app runs
as its own process (``python -m voxtray.core.cli``) with the desktop's environment (Xvfb, the
session bus, trayer) and the pulse client environment; it is asked for its state over its own
single-instance channel, never by peeking inside it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from voxtray.core.ipc import send_command

from tests.harness.desktop import DesktopSession
from tests.harness.process import die_with_parent
from tests.harness.pulse import PulseServer

TRAY_ICON_NAME = "VoxTray"


@dataclass
class RunningApp:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path
    instance: Path
    figures: dict[str, Any] = field(default_factory=dict)

    def ask(self, command: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        reply = send_command(command, directory=self.instance, timeout=timeout)
        assert reply is not None, "the tray app is not answering"
        return reply

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.ask({"cmd": "stats"})["stats"]
        return stats

    def idle(self, timeout: float = 30.0) -> None:
        """Wait until nothing plays or waits (asked over the app's own channel)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["current_request"] is None and stats["queue_size"] == 0:
                return
            assert time.monotonic() < deadline, f"still busy: {stats}"
            time.sleep(0.02)

    def wait_output_suspended(self, timeout: float = 30.0) -> None:
        """Wait until the player has stopped its idle stream (the app's true idle state)."""
        deadline = time.monotonic() + timeout
        while not self.stats()["output_suspended"]:
            assert time.monotonic() < deadline, "the output stream never went idle"
            time.sleep(0.1)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def voxtray(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "voxtray.core.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def app_environment(desktop: DesktopSession, pulse: PulseServer) -> dict[str, str]:
    """The desktop's environment, pointed at ``pulse``, without a cloud key."""
    env = dict(desktop.env)
    env.update(pulse.client_env)
    env.pop("ELEVENLABS_API_KEY", None)
    return env


@contextmanager
def running_tray_app(
    desktop: DesktopSession,
    env: dict[str, str],
    settings: str,
    *,
    log_name: str = "app.log",
    timeout: float = 30.0,
) -> Iterator[RunningApp]:
    """``voxtray`` (no arguments) with ``settings`` as its settings file, until the block ends.

    Records ``start_to_tray_icon_s`` (``Popen`` → the icon's window embedded in trayer's
    panel) and ``start_to_ready_s`` (→ the first answer on the single-instance channel, given
    once start-up is done) in ``figures``. At the end the app gets SIGTERM, the path of a
    clean shutdown, if it is still running.
    """
    settings_file = Path(env["XDG_CONFIG_HOME"]) / "voxtray" / "settings.toml"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(settings)
    log = desktop.root / log_name
    started = time.monotonic()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "voxtray.core.cli", "-v"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    running = RunningApp(process, env, log, Path(env["XDG_RUNTIME_DIR"]) / "voxtray")
    try:
        desktop.wait_for(
            lambda: desktop.tray_icon(TRAY_ICON_NAME) or process.poll() is not None,
            timeout,
            "the tray icon never appeared",
        )
        assert process.poll() is None, running.log_text()
        running.figures["start_to_tray_icon_s"] = round(time.monotonic() - started, 3)
        desktop.wait_for(
            lambda: send_command({"cmd": "stats"}, directory=running.instance) is not None,
            timeout,
            "the tray app never answered",
        )
        running.figures["start_to_ready_s"] = round(time.monotonic() - started, 3)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)
