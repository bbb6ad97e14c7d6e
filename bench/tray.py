"""The tray app as a user meets it: start → tray icon, hotkey → first sound, idle CPU.

Everything runs on a private Xvfb with the trayer tray host and a private PulseAudio null sink
(the system test's harness, tests/harness/tray_app.py), and the app is ``voxtray`` started as
its own process:

* **start → tray icon**: ``Popen`` → the icon's window embedded in trayer's panel. Baseline: a
  bare PySide6 program that only shows a ``QSystemTrayIcon``, started the same way, in the same
  run — the ratio is what VoxTray's own start-up (engine, voice warm-up in the background,
  channel, hotkeys) adds to Qt's.
* **hotkey → first sound**: ``xdotool key ctrl+alt+r`` with the clipboard set by xclip → the
  first recorded block above 0.05 full scale on the sink's monitor; p50 of 10, with the Piper
  voice (the default) and with the tone voice (the stack without synthesis). Baseline: raw
  Piper's time to the first chunk of the same text, in this process, in the same run.
* **idle CPU over 60 s**: once the app has stopped its idle output stream, its CPU time over
  60 s, measured over the same 60 s as the bare tray program's (the baseline).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from voxtray.desktop.tray import icons_dir

from tests.harness.desktop import DesktopSession
from tests.harness.process import die_with_parent
from tests.harness.pulse import PulseServer
from tests.harness.tray_app import (
    RunningApp,
    app_environment,
    cpu_seconds,
    running_tray_app,
)

from .raw_piper import first_chunk_seconds, load_voice
from .report import LoadMeter, emit, note, percentile

NAME = "tray"
CLIPBOARD_TEXT = "Hello from the clipboard."
BARE_TRAY_NAME = "BareTray"
BARE_TRAY = f"""
import sys
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
app = QApplication(sys.argv)
app.setApplicationName({BARE_TRAY_NAME!r})
icon = QSystemTrayIcon(QIcon(sys.argv[1]))
icon.show()
app.exec()
"""
SETTINGS = {
    "piper": "",  # the shipped defaults: the embedded Piper voice
    "tone": '[voice]\nprovider = "tone"\nvoice = "440"\n',
}


def run(quick: bool) -> None:
    presses = 3 if quick else 10
    idle_seconds = 10.0 if quick else 60.0
    pulse = PulseServer.start()
    desktop = DesktopSession.start()
    try:
        _measure(desktop, pulse, presses, idle_seconds)
    finally:
        desktop.stop()
        pulse.stop()


def _measure(
    desktop: DesktopSession, pulse: PulseServer, presses: int, idle_seconds: float
) -> None:
    meter = LoadMeter()
    env = app_environment(desktop, pulse)
    raw = _raw_piper_first_chunk(presses)
    context: dict[str, Any] = {"presses": presses}
    emit(NAME, "raw_piper_first_chunk_p50", statistics.median(raw), "s", **context)
    starts: dict[str, list[float]] = {"voxtray": [], "bare_qt_tray": []}
    with _bare_tray(desktop, env) as (bare, bare_start):
        starts["bare_qt_tray"].append(bare_start)
        with _bare_tray(desktop, env) as (_, again):  # a second, warm start of the baseline
            starts["bare_qt_tray"].append(again)
        for voice in ("tone", "piper"):
            env_voice = {**env, "XDG_CONFIG_HOME": str(desktop.root / f"config-{voice}")}
            with running_tray_app(
                desktop, env_voice, SETTINGS[voice], log_name=f"bench-{voice}.log"
            ) as app:
                starts["voxtray"].append(app.figures["start_to_tray_icon_s"])
                latencies = _hotkey_latencies(app, desktop, pulse, presses)
                p50 = statistics.median(latencies)
                extra: dict[str, Any] = {"voice": voice, **context}
                if voice == "piper":
                    extra["ratio_to_raw_piper"] = p50 / statistics.median(raw)
                emit(NAME, f"hotkey_to_first_sound_{voice}_p50", p50, "s", **extra)
                emit(NAME, f"hotkey_to_first_sound_{voice}_p95", percentile(latencies, 95), "s")
                # The engine's own part: speak() → first sample handed to the sound card.
                engine = app.stats()["time_to_first_audio"]
                emit(NAME, f"engine_time_to_first_audio_{voice}_p50", engine["p50"], "s")
                if voice == "piper":
                    _idle_cpu(app, bare, idle_seconds)
                app.voxtray("quit")
                app.process.wait(timeout=15)
    vox, qt = statistics.median(starts["voxtray"]), statistics.median(starts["bare_qt_tray"])
    emit(NAME, "start_to_tray_icon", vox, "s", runs=len(starts["voxtray"]), **meter.context())
    emit(NAME, "bare_qt_start_to_tray_icon", qt, "s", runs=len(starts["bare_qt_tray"]))
    emit(NAME, "start_ratio_to_bare_qt", vox / qt, "x")


def _raw_piper_first_chunk(runs: int) -> list[float]:
    note("tray: raw Piper baseline")
    voice = load_voice()
    first_chunk_seconds(voice, CLIPBOARD_TEXT)  # onnxruntime's first run allocates; not counted
    return [first_chunk_seconds(voice, CLIPBOARD_TEXT) for _ in range(runs)]


@contextmanager
def _bare_tray(
    desktop: DesktopSession, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """The baseline program, until the block ends; yields it and its start → icon time."""
    icon = icons_dir() / "voxtray-idle.svg"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", BARE_TRAY, str(icon)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        desktop.wait_for(
            lambda: desktop.tray_icon(BARE_TRAY_NAME), 30.0, "the bare tray icon never appeared"
        )
        yield process, time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=15)


def _hotkey_latencies(
    app: RunningApp, desktop: DesktopSession, pulse: PulseServer, presses: int
) -> list[float]:
    latencies = []
    with desktop.clipboard(CLIPBOARD_TEXT):
        for index in range(presses):
            with pulse.recorder() as recorder:
                pressed = desktop.press("ctrl+alt+r")
                if not recorder.wait_for_sound(0.05, timeout=30):
                    raise RuntimeError(f"press {index + 1}: no sound\n{app.log_text()[-2000:]}")
                latencies.append(time.monotonic() - pressed)
            app.idle(timeout=60)
            note(f"tray: hotkey {index + 1}/{presses}: {latencies[-1] * 1000:.0f} ms")
    return latencies


def _idle_cpu(app: RunningApp, bare: subprocess.Popen[bytes], seconds: float) -> None:
    app.idle()
    app.wait_output_suspended()
    note(f"tray: idle CPU over {seconds:.0f} s")
    meter = LoadMeter()
    before = cpu_seconds(app.process.pid), cpu_seconds(bare.pid)
    started = time.monotonic()
    time.sleep(seconds)  # the measurement is of an interval
    wall = time.monotonic() - started
    after = cpu_seconds(app.process.pid), cpu_seconds(bare.pid)
    vox, qt = ((a - b) / wall * 100 for a, b in zip(after, before, strict=True))
    context = {"seconds": round(wall, 1), **meter.context()}
    emit(NAME, "idle_cpu", vox, "% of a core", **context)
    emit(NAME, "bare_qt_idle_cpu", qt, "% of a core", **context)
