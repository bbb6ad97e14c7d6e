"""The tray app as a user runs it: a real X server with a tray host, real hotkeys, real sound.

``voxtray`` (no arguments) is started as a process on a private Xvfb with trayer, a private
session bus and the private PulseAudio null sink. The tests set the clipboard with xclip, press
the real global hotkeys with xdotool, drag a file onto the drop window through XDND, run
``voxtray speak`` in a second process, and record the sink's monitor to check what came out.
The tone voice speaks where only timing and order matter; the Piper voice speaks once.

Figures (start to tray icon, hotkey to first sound, stop to silence, idle CPU) are written to
``artifacts/tray-figures.json`` and screenshots to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.desktop import DesktopSession, Geometry
from tests.harness.process import die_with_parent
from tests.harness.pulse import HarnessError, PulseServer, Recording
from tests.harness.signal import db, dominant_frequency, sound_spans
from tests.harness.tray_app import RunningApp, app_environment, cpu_seconds, running_tray_app

pytestmark = [
    pytest.mark.sound,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xvfb and trayer: Linux"),
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
FIGURES = ARTIFACTS / "tray-figures.json"
DROP_TITLE = "VoxTray — drop here to read aloud"
TAKEN_COMBO = "Ctrl+Alt+P"  # grabbed by another client before VoxTray starts
LONG_TEXT = " ".join(["This sentence keeps the tone voice busy for a good while."] * 6)

SETTINGS = """\
[voice]
provider = "tone"
voice = "440"
"""

GRABBER = """\
import sys
from Xlib import X, XK
from Xlib.display import Display
d = Display()
code = d.keysym_to_keycode(XK.string_to_keysym("p"))
for extra in (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask):
    d.screen().root.grab_key(code, X.ControlMask | X.Mod1Mask | extra, True,
                             X.GrabModeAsync, X.GrabModeAsync)
d.sync()
print("grabbed", flush=True)
sys.stdin.read()
"""


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


@pytest.fixture(scope="module")
def app(desktop: DesktopSession, pulse: PulseServer) -> Iterator[RunningApp]:
    """``voxtray`` started as a user would, with another client holding Ctrl+Alt+P."""
    env = app_environment(desktop, pulse)
    grabber = subprocess.Popen(
        [sys.executable, "-c", GRABBER],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    assert grabber.stdout is not None and grabber.stdout.readline().strip() == b"grabbed"
    running: RunningApp | None = None
    try:
        with running_tray_app(desktop, env, SETTINGS) as running:
            yield running
    finally:
        assert grabber.stdin is not None
        grabber.stdin.close()
        grabber.wait(timeout=5)
        if running is not None:
            ARTIFACTS.mkdir(exist_ok=True)
            FIGURES.write_text(json.dumps(running.figures, indent=2) + "\n")
            (ARTIFACTS / "tray-app.log").write_bytes(running.log.read_bytes())
            print(f"tray figures: {running.figures}")


def last_sound_end(recording: Recording) -> float:
    """Monotonic time by which the last audible stretch of the recording had surely ended: when
    the monitor delivered its last sample (late by the delivery, ~10 ms, never early)."""
    spans = sound_spans(recording.samples, recording.rate, threshold=db(-40))
    assert spans, "nothing was heard"
    return recording.received_by(spans[-1].end * recording.rate - 1)


def test_tray_icon_is_embedded_and_the_taken_hotkey_is_named(
    app: RunningApp, desktop: DesktopSession
) -> None:
    icon = desktop.tray_icon("VoxTray")
    assert icon is not None and icon.width > 1
    assert any('("voxtray"' in line for line in desktop.tray_clients())
    desktop.wait_for(
        lambda: f"{TAKEN_COMBO} is already taken by another application" in app.log_text(),
        10.0,
        f"no notice named {TAKEN_COMBO}:\n{app.log_text()[-2000:]}",
    )
    desktop.screenshot(SCREENSHOTS / "hotkey-taken-notice.png")


def test_hotkey_reads_the_clipboard_and_shut_up_silences(
    app: RunningApp, desktop: DesktopSession, pulse: PulseServer
) -> None:
    latencies = []
    with desktop.clipboard("Hello from the clipboard."):
        for _ in range(10):
            with pulse.recorder() as recorder:
                pressed = desktop.press("ctrl+alt+r")
                assert recorder.wait_for_sound(0.05, timeout=10), "the hotkey made no sound"
                latencies.append(time.monotonic() - pressed)
            app.idle()
    app.figures["hotkey_to_first_sound_p50_s"] = round(statistics.median(latencies), 3)
    app.figures["hotkey_to_first_sound_max_s"] = round(max(latencies), 3)
    assert statistics.median(latencies) < 1.0

    with desktop.clipboard(LONG_TEXT), pulse.recorder() as recorder:
        desktop.press("ctrl+alt+r")
        assert recorder.wait_for_sound(0.05, timeout=10)
        stopped = desktop.press("ctrl+alt+s")
        app.idle()
    silence_after = last_sound_end(recorder.result) - stopped
    app.figures["shut_up_to_silence_s"] = round(silence_after, 3)
    assert silence_after < 0.1, f"sound went on {silence_after:.3f} s after shut-up"
    heard = recorder.result.samples
    assert len(heard) / recorder.result.rate < 30  # it did not play the whole long text


def test_voxtray_speak_in_a_second_process_is_spoken_by_the_instance(
    app: RunningApp, pulse: PulseServer
) -> None:
    before = app.stats()["total_requests"]
    with pulse.recorder() as recorder:
        asked = time.monotonic()
        done = app.voxtray("speak", "--voice", "tone:660", "Handed over to the tray.")
        handed = time.monotonic() - asked
        assert done.returncode == 0, done.stderr
        assert recorder.wait_for_sound(0.05, timeout=10)
        app.idle()
    assert app.stats()["total_requests"] == before + 1
    assert handed < 5.0  # the CLI returned on acceptance (no model, no sound card of its own)
    spans = sound_spans(recorder.result.samples, recorder.result.rate, threshold=db(-30))
    part = recorder.result.samples[int(spans[0].start * 48000) : int(spans[-1].end * 48000)]
    assert abs(dominant_frequency(part, 48000) - 660) < 5  # the instance played it


@pytest.mark.piper
def test_the_piper_voice_speaks_through_the_instance(app: RunningApp, pulse: PulseServer) -> None:
    with pulse.recorder() as recorder:
        done = app.voxtray("speak", "--voice", "piper:en_US-joe-medium", "Hello from VoxTray.")
        assert done.returncode == 0, done.stderr
        assert recorder.wait_for_sound(0.05, timeout=30), "the Piper voice was not heard"
        app.idle(timeout=60)
    voiced = sum(
        span.duration
        for span in sound_spans(recorder.result.samples, recorder.result.rate, min_gap=0.3)
    )
    assert voiced > 0.6, f"only {voiced:.2f} s of speech"


def test_a_dropped_file_is_read(
    app: RunningApp, desktop: DesktopSession, pulse: PulseServer, tmp_path: Path
) -> None:
    notes = tmp_path / "dropped-notes.txt"
    notes.write_text("These notes were dropped on the window.\n")
    app.ask({"cmd": "show"})
    target = desktop.wait_for(lambda: desktop.window(DROP_TITLE), 10.0, "no drop window")
    source = subprocess.Popen(
        [sys.executable, "-m", "tests.harness.dragsource", str(notes)],
        env=app.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    try:
        start = desktop.wait_for(
            lambda: desktop.window("voxtray-drag-source"), 10.0, "no drag source window"
        )
        assert start is not None and target is not None
        before = app.stats()["total_requests"]
        with pulse.recorder() as recorder:
            x, y = start.center  # type: ignore[attr-defined]
            tx, ty = target.center  # type: ignore[attr-defined]
            desktop.xdotool("mousemove", str(x), str(y), "mousedown", "1")
            for step in range(1, 11):  # XDND follows the pointer as it moves
                desktop.xdotool(
                    "mousemove", str(x + (tx - x) * step // 10), str(y + (ty - y) * step // 10)
                )
            desktop.xdotool("mouseup", "1")
            assert source.stdout is not None
            assert source.stdout.readline().strip() == "dropped: CopyAction"
            heard = recorder.wait_for_sound(0.05, timeout=10)
            desktop.screenshot(SCREENSHOTS / "drop-window.png")
            assert heard, f"the dropped file was not read: {app.stats()}"
            app.idle()
        assert app.stats()["total_requests"] == before + 1
    finally:
        source.terminate()
        source.wait(timeout=10)


def test_idle_uses_no_measurable_cpu(app: RunningApp) -> None:
    app.idle()
    app.wait_output_suspended()  # the player stops its stream when idle
    before = cpu_seconds(app.process.pid)
    started = time.monotonic()
    time.sleep(5.0)  # measuring over an interval is the point here (60 s: bench/tray.py)
    share = (cpu_seconds(app.process.pid) - before) / (time.monotonic() - started)
    app.figures["idle_cpu_percent_5s"] = round(share * 100, 2)
    assert share < 0.01, f"idle, the app used {share:.1%} of a core"


def test_screenshots_of_menu_stats_and_settings(app: RunningApp, desktop: DesktopSession) -> None:
    icon = desktop.tray_icon("VoxTray")
    assert icon is not None
    names_before = {name for name, _, _ in desktop.windows()}

    def new_window() -> object:
        return [w for w in desktop.windows() if w[0] not in names_before and w[1].height > 100]

    x, y = icon.center
    desktop.xdotool("mousemove", str(x), str(y), "click", "3")
    menu = desktop.wait_for(lambda: _menu_open(desktop, icon), 10.0, "the menu did not open")
    assert isinstance(menu, Geometry)
    # The tray panel and the menu under it, as the user sees them.
    left, bottom = min(menu.x, icon.x) - 120, max(menu.y + menu.height, icon.y + icon.height)
    desktop.screenshot(
        SCREENSHOTS / "tray-menu.png", Geometry(left, 0, 1280 - left, bottom), margin=0
    )

    # Stats during playback: open it from the menu by its keyboard mnemonic (St&ats…).
    app.ask({"cmd": "speak", "text": LONG_TEXT})
    desktop.xdotool("key", "a")
    stats_window = _largest(desktop.wait_for(new_window, 10.0, "the stats window did not open"))
    # The point of this picture is live figures: a request well under way.
    desktop.wait_for(lambda: (app.stats()["current_progress"] or 0) > 0.15, 20.0, "no progress")
    desktop.screenshot(SCREENSHOTS / "stats-window.png", stats_window)
    app.ask({"cmd": "stop"})
    desktop.xdotool("key", "Escape")  # the stats window closes (so the dialog has the screen)
    desktop.wait_for(lambda: not _same_window_open(desktop, stats_window), 10.0, "still open")

    names_before.update(name for name, _, _ in desktop.windows())
    desktop.xdotool("mousemove", str(x), str(y), "click", "3")
    desktop.wait_for(lambda: _menu_open(desktop, icon), 10.0)
    desktop.xdotool("key", "n")
    dialog = desktop.wait_for(new_window, 10.0)
    if dialog is None:
        pytest.fail(f"the settings dialog did not open:\n{app.log_text()[-1500:]}")
    dialog_area = _largest(dialog)
    desktop.wait_painted(dialog_area)
    desktop.screenshot(SCREENSHOTS / "settings-dialog.png", dialog_area)


def _menu_open(desktop: DesktopSession, icon: Any) -> Geometry | None:
    """A popup as tall as VoxTray's menu, mapped right under the tray icon."""
    for _, geometry, _ in desktop.windows():
        if geometry.height > 200 and abs(geometry.y - (icon.y + icon.height)) < 400:
            return geometry
    return None


def _same_window_open(desktop: DesktopSession, area: Geometry) -> bool:
    return any(geometry == area for _, geometry, _ in desktop.windows())


def _largest(windows: object) -> Geometry:
    assert isinstance(windows, list) and windows
    geometry: Geometry = max(windows, key=lambda w: w[1].width * w[1].height)[1]
    return geometry


def test_voxtray_quit_ends_the_app_cleanly(app: RunningApp) -> None:
    done = app.voxtray("quit")
    assert done.returncode == 0, done.stderr
    assert app.process.wait(timeout=15) == 0
    assert not (app.instance / "voxtray.sock").exists()
    log = app.log_text()
    assert "Traceback" not in log, log[-3000:]
    again = app.voxtray("stop")
    assert again.returncode == 1 and "not running" in again.stderr
