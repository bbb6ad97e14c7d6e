"""The tray app's Qt layer with the real engine, on the qasync loop, offscreen.

The narrator is the real one (queue, worker, scheduler, tone and Piper providers); only the
sound card is replaced by the clocked in-memory output, so requests take real (scaled) time and
the queue can be seen and cancelled. Real sound and a real tray host are the system test's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget
from pytestqt.qtbot import QtBot
from voxtray.core.ipc import send_command
from voxtray.core.model import VoiceRef
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import HotkeySettings, Settings, VoiceSettings, load_settings
from voxtray.desktop.app import TrayApp
from voxtray.desktop.bridge import NarratorBridge, TrayState
from voxtray.desktop.display import display_problem
from voxtray.desktop.notices import Level, Notifier
from voxtray.desktop.tray import SPEEDS
from voxtray.desktop.windows.drop import DropWindow

from tests.fakes.clocked_output import ClockedOutput
from tests.harness.qtasync import wait_signal, wait_until

RATE = 22050
SENTENCE = "This sentence is long enough to keep the voice busy for a while."


def tone_registry() -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=0.02, chunk_seconds=0.05))
    return registry


def tone_narrator(speed: float = 4.0) -> Narrator:
    return Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=speed),
        providers=tone_registry(),
        default_voice=VoiceRef("tone", "440"),
        settings=WorkerSettings(lookahead_seconds=2.0),
    )


def tone_settings() -> Settings:
    return Settings(voice=VoiceSettings(provider="tone", voice="440"))


async def reach(bridge: NarratorBridge, state: TrayState) -> None:
    if bridge.state is not state:
        await wait_until(bridge.stateChanged, lambda new: new is state)


# pytest-qt processes Qt events between a test and its fixtures' teardown, outside the
# asyncio loop: qasync callbacks of a still-running narrator would run there without a loop.
# So the engine is started and shut down inside each test, by these context managers.


@contextlib.asynccontextmanager
async def running_narrator() -> AsyncIterator[Narrator]:
    async with tone_narrator() as narrator:
        yield narrator


@contextlib.asynccontextmanager
async def running_app() -> AsyncIterator[TrayApp]:
    """The whole app minus hotkeys and sound card, started; shut down at the end."""
    registry = tone_registry()
    narrator = Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=4.0),
        providers=registry,
        default_voice=VoiceRef("tone", "440"),
        settings=WorkerSettings(lookahead_seconds=2.0),
    )
    tray_app = TrayApp(
        tone_settings(), narrator=narrator, providers=registry, hotkeys=False, notice_window=0.3
    )
    await tray_app.start()
    try:
        yield tray_app
    finally:
        await tray_app.shutdown()


# -- bridge ---------------------------------------------------------------------------------------


async def test_bridge_turns_a_request_into_signals_and_states() -> None:
    from voxtray.core.model import SpeakRequest

    async with running_narrator() as narrator:
        bridge = NarratorBridge(narrator)
        seen: list[tuple[str, tuple[Any, ...]]] = []
        for name in (
            "requestQueued",
            "started",
            "firstAudio",
            "progress",
            "finished",
            "stateChanged",
        ):
            getattr(bridge, name).connect(lambda *args, name=name: seen.append((name, args)))
        text = "Hello there. Goodbye now."
        handle = narrator.speak(SpeakRequest(text=text))
        await wait_signal(bridge.finished)
        rid = int(handle.request_id)
        names = [name for name, _ in seen if name != "progress"]
        assert names == [
            "requestQueued",
            "stateChanged",
            "started",
            "firstAudio",
            "finished",
            "stateChanged",
        ]
        args = dict(seen)
        assert args["requestQueued"] == (rid, text)
        assert args["firstAudio"][0] == rid and args["firstAudio"][1] > 0
        progress = [a for name, a in seen if name == "progress"]
        assert progress[-1] == (rid, len("Hello there. "), len(text))
        assert [a for name, a in seen if name == "stateChanged"] == [
            (TrayState.SPEAKING,),
            (TrayState.IDLE,),
        ]
        bridge.close()


async def test_bridge_reports_a_failure_and_stop_clears_the_error() -> None:
    from voxtray.core.model import SpeakRequest

    async with running_narrator() as narrator:
        bridge = NarratorBridge(narrator)
        narrator.speak(SpeakRequest(text="Hello.", voice=VoiceRef("tone", "not-a-pitch")))
        _, reason, permanent = await wait_signal(bridge.failed)
        assert "not-a-pitch" in reason and permanent
        assert bridge.state is TrayState.ERROR
        bridge.stop()
        assert bridge.state is TrayState.IDLE
        bridge.close()


async def test_pause_and_resume_show_on_the_state() -> None:
    async with running_narrator() as narrator:
        bridge = NarratorBridge(narrator)
        states: list[TrayState] = []
        bridge.stateChanged.connect(states.append)
        bridge.toggle_pause()
        assert narrator.paused and bridge.state is TrayState.PAUSED
        bridge.toggle_pause()
        assert not narrator.paused and bridge.state is TrayState.IDLE
        assert states == [TrayState.PAUSED, TrayState.IDLE]
        bridge.close()


# -- tray -----------------------------------------------------------------------------------------


def menu_texts(app: TrayApp) -> list[str]:
    """The menu's entries as read aloud (without the ``&`` of their keyboard mnemonics); hidden
    ones ("Cancel export" while no export runs) are not in the menu the user sees."""
    return [
        action.text().replace("&", "")
        for action in app.tray.menu.actions()
        if not action.isSeparator() and action.isVisible()
    ]


async def test_tray_menu_offers_everything_the_issue_lists(xdg: Path) -> None:
    async with running_app() as app:
        assert menu_texts(app) == [
            "Read clipboard",
            "Read selection",
            "Pause",
            "Back a sentence",
            "Skip sentence",
            "Go to",
            "Stop",
            "Queue",
            "Voice",
            "Speed",
            "Open file…",
            "Export file…",
            "Drop window…",
            "Reading window…",
            "Stats…",
            "Settings…",
            "Quit",
        ]
        speeds = [action.data() for action in app.tray.speed_menu.actions()]
        assert speeds == list(SPEEDS)


async def test_go_to_and_the_rewind_command_move_the_reading(xdg: Path) -> None:
    text = (
        "The first paragraph has a sentence. And a second one that goes on a while.\n\n"
        "The second paragraph begins here.\n\nThe third paragraph ends it."
    )
    async with running_app() as app:
        app.speak(text=text)
        await wait_signal(app.bridge.segmentHeard)
        go = {a.text().replace("&", ""): a for a in app.tray.go_menu.actions()}
        assert list(go) == [
            "Previous paragraph",
            "Next paragraph",
            "Previous chapter",
            "Next chapter",
        ]
        moves: asyncio.Queue[int] = asyncio.Queue()
        app.bridge.repositioned.connect(lambda _id, offset: moves.put_nowait(offset))
        go["Next paragraph"].trigger()
        assert await asyncio.wait_for(moves.get(), 10) == text.index("The second paragraph")
        reply = await asyncio.to_thread(send_command, {"cmd": "rewind", "unit": "paragraph"})
        assert reply == {"ok": True, "rewound": True}
        assert await asyncio.wait_for(moves.get(), 10) in (0, text.index("The second paragraph"))


async def test_the_icon_follows_the_state(xdg: Path) -> None:
    async with running_app() as app:
        app.speak(text=SENTENCE)
        await reach(app.bridge, TrayState.SPEAKING)
        assert app.tray.state is TrayState.SPEAKING
        app.tray.pause_action.trigger()
        assert app.tray.state is TrayState.PAUSED
        assert app.tray.pause_action.text() == "&Resume"
        app.tray.pause_action.trigger()
        assert app.tray.pause_action.text() == "&Pause"
        app.tray.stop_action.trigger()
        await reach(app.bridge, TrayState.IDLE)
        assert app.tray.state is TrayState.IDLE


async def test_queue_submenu_lists_and_cancels(xdg: Path) -> None:
    async with running_app() as app:
        first = app.speak(text=SENTENCE)
        second = app.speak(text="The second request waits its turn.")
        await wait_until(app.bridge.started, lambda rid, _voice: rid == int(first.request_id))
        app.tray.menu.aboutToShow.emit()
        actions = app.tray.queue_menu.actions()
        assert [a.text() for a in actions] == [
            f"Stop playing: {first.request.label}",
            f"Cancel: {second.request.label}",
        ]
        assert app.tray.queue_menu.title() == "&Queue (2)"
        canceled: list[int] = []
        app.bridge.canceled.connect(canceled.append)
        actions[1].trigger()
        assert canceled == [int(second.request_id)]
        assert [item.request_id for item in app.narrator.queue()] == [first.request_id]


async def test_voice_and_speed_menus_change_the_defaults_and_are_saved(xdg: Path) -> None:
    async with running_app() as app:
        assert [a.text() for a in app.tray.voice_menu.actions()] == ["Looking for voices…"]
        app.tray.voice_menu.aboutToShow.emit()  # the voices are listed when the menu opens
        await wait_signal(app.tray.voicesChanged)
        voices = {a.data(): a for a in app.tray.voice_menu.actions() if a.data() is not None}
        assert voices[VoiceRef("tone", "440")].isChecked()
        other = next(ref for ref in voices if ref != VoiceRef("tone", "440"))
        voices[other].trigger()
        assert app.narrator.default_voice == other
        assert voices[other].isChecked() and not voices[VoiceRef("tone", "440")].isChecked()
        faster = next(a for a in app.tray.speed_menu.actions() if a.data() == 1.5)
        faster.trigger()
        saved = load_settings().settings
        assert (saved.voice.provider, saved.voice.voice, saved.voice.rate) == (
            other.provider,
            other.voice_id,
            1.5,
        )
        handle = app.speak(text="Faster now.")
        assert handle.request.rate == 1.5


# -- notices --------------------------------------------------------------------------------------


async def test_a_burst_of_failures_is_one_notice() -> None:
    shown: list[Any] = []
    notifier = Notifier(shown.append, window=0.5, gather=0.1)
    for n in range(10):
        notifier.notify("VoxTray could not read that", f"failure {n}")
    await wait_signal(notifier.shown)
    assert [(n.message, n.level) for n in shown] == [("failure 0 (and 9 more)", Level.ERROR)]
    notifier.notify("Again", "one more failure", Level.WARNING)  # within the quiet window
    notifier.notify("Again", "and another", Level.WARNING)
    assert len(shown) == 1
    await wait_signal(notifier.shown)
    assert [n.message for n in shown] == ["failure 0 (and 9 more)", "one more failure (and 1 more)"]


async def test_failed_request_becomes_a_notice(xdg: Path) -> None:
    async with running_app() as app:
        app.speak(text="Hello.", voice=VoiceRef("tone", "not-a-pitch"))
        (notice,) = await wait_signal(app.notifier.shown)
        assert notice.level is Level.ERROR and "not-a-pitch" in notice.message


# -- stats window ---------------------------------------------------------------------------------


async def test_the_stats_window_follows_the_real_engine(xdg: Path) -> None:
    """Progress, first-audio figures and the voice's health, from the narrator itself."""
    from voxtray.desktop.windows.stats import StatsWindow

    async with running_app() as app:
        app.show_stats()
        window = app.stats_window
        assert isinstance(window, StatsWindow) and window.timer.isActive()
        text = " ".join([SENTENCE] * 4)
        handle = app.speak(text=text)
        third_start = text.index(SENTENCE, 2 * len(SENTENCE))
        await wait_until(app.bridge.progress, lambda _id, start, _end: start >= third_start)
        window.refresh()
        heard = window.current_progress.value() / 1000
        assert 0.4 < heard < 0.8, heard  # the third of four sentences is being heard
        assert window.figure("ttfa_last") != "—"
        assert window.figure("providers") == "tone: working"
        app.bridge.stop()
        await handle.wait()
        window.refresh()
        assert window.current_label.text() == "Nothing is playing"
        assert window.figure("canceled") == "1"


async def test_the_settings_dialog_lists_the_apps_voices_and_lets_a_key_save_finish(
    xdg: Path,
) -> None:
    """The dialog as the app opens it: the voice list comes from the app's own providers, and
    closing the dialog while a key is being written neither loses the write nor crashes."""
    from voxtray.core.engine import default_providers
    from voxtray.desktop.windows.settings import SettingsDialog

    registry = default_providers(tone_settings())
    narrator = Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=4.0),
        providers=registry,
        default_voice=VoiceRef("tone", "440"),
    )
    app = TrayApp(tone_settings(), narrator=narrator, providers=registry, hotkeys=False)
    written: list[str] = []
    gate = asyncio.Event()

    async def slow_save(key: str) -> None:
        await gate.wait()
        written.append(key)

    app._save_key = slow_save  # type: ignore[method-assign]  # a keyring that takes its time
    await app.start()
    try:
        app.show_settings()
        dialog = app.settings_dialog
        assert isinstance(dialog, SettingsDialog)
        dialog.provider.setCurrentIndex(dialog.provider.findData("piper"))
        await dialog.settle()
        assert dialog.voice.findData("en_US-joe-medium") >= 0, dialog.status.text()
        dialog.provider.setCurrentIndex(dialog.provider.findData("elevenlabs"))
        dialog.api_key.setText("sk_typed_in_the_dialog")
        dialog.accept()
        assert app.settings_dialog is None  # closed, its key still being written
        closing = asyncio.ensure_future(app.shutdown())  # quit right after OK
        await asyncio.wait({closing}, timeout=0.2)
        assert not closing.done() and written == []  # the quit waits for the keyring
        gate.set()
        await closing
    finally:
        gate.set()
        await app.shutdown()
    assert written == ["sk_typed_in_the_dialog"]


# -- clipboard ------------------------------------------------------------------------------------


async def test_read_now_reads_the_clipboard(xdg: Path) -> None:
    async with running_app() as app:
        QGuiApplication.clipboard().setText("Copied words to read.")
        queued: list[str] = []
        app.bridge.requestQueued.connect(lambda _id, label: queued.append(label))
        handle = app.read_now()
        assert handle is not None and handle.request.text == "Copied words to read."
        assert handle.request.interrupt  # the default: read now cuts off what plays
        assert queued == ["Copied words to read."]


async def test_an_empty_clipboard_is_a_notice(xdg: Path) -> None:
    async with running_app() as app:
        QGuiApplication.clipboard().setText("   ")
        assert app.read_now() is None
        (notice,) = await wait_signal(app.notifier.shown)
        assert notice.message == "The clipboard has no text"


async def test_read_now_can_queue_instead_of_interrupting(xdg: Path) -> None:
    async with running_app() as app:
        app.settings = app.settings.replace(hotkeys=HotkeySettings(read_now_while_playing="queue"))
        QGuiApplication.clipboard().setText("Behind what plays.")
        handle = app.read_now()
        assert handle is not None and not handle.request.interrupt


# -- drop window ----------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "notes.txt"
    good.write_text("Notes to read aloud.\n")
    binary = tmp_path / "picture.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    return {"good": good, "binary": binary, "missing": tmp_path / "gone.txt"}


def drop(window: DropWindow, mime: QMimeData) -> None:
    """Drop on the window: its own handler, with Qt's event object.

    (Qt delivers a drop only within a drag it runs itself, so the handlers are called
    directly; the system test drops through the real X11 drag and drop.)
    """
    point = QPoint(10, 10)
    event = QDropEvent(
        point.toPointF(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


async def test_dropped_files_are_queued_and_bad_ones_named(
    xdg: Path, files: dict[str, Path]
) -> None:
    async with running_app() as app:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in files.values()])
        queued: list[str] = []
        app.bridge.requestQueued.connect(lambda _id, label: queued.append(label))
        drop(app.drop, mime)
        assert queued == ["notes.txt"]
        (notice,) = await wait_signal(app.notifier.shown)
        message = notice.message
        assert "picture.png cannot be read aloud" in message and "not a text file" in message
        assert "(and 1 more)" in message  # gone.txt, in the same notice
        assert [n.message for n in app.notifier.history] == [message]


async def test_dropped_text_is_queued(xdg: Path) -> None:
    async with running_app() as app:
        mime = QMimeData()
        mime.setText("Some dragged text.")
        queued: list[str] = []
        app.bridge.requestQueued.connect(lambda _id, label: queued.append(label))
        drop(app.drop, mime)
        assert queued == ["Some dragged text."]


def test_drop_window_works_from_the_keyboard(qtbot: QtBot) -> None:
    window = DropWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    QGuiApplication.clipboard().setText("Pasted with Ctrl+V.")
    with qtbot.waitSignal(window.textDropped, timeout=5_000) as pasted:
        qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert pasted.args == ["Pasted with Ctrl+V."]
    controls = [
        w for w in window.findChildren(QWidget) if w.focusPolicy() & Qt.FocusPolicy.TabFocus
    ]
    assert controls, "the window has keyboard-reachable controls"
    for control in controls:
        assert control.accessibleName(), f"{control!r} has no accessible name"
    buttons = {b.accessibleName() for b in window.findChildren(QAbstractButton)}
    assert buttons == {"Open file", "Paste text"}
    assert window.accessibleName() == "VoxTray drop target"


# -- the single-instance channel through the app --------------------------------------------------


async def test_commands_from_another_process_reach_the_app(
    xdg: Path, files: dict[str, Path]
) -> None:
    async with running_app() as app:
        reply = await asyncio.to_thread(send_command, {"cmd": "speak", "file": str(files["good"])})
        assert reply is not None and reply["ok"] and reply["request_id"] >= 1
        refused = await asyncio.to_thread(
            send_command, {"cmd": "speak", "file": str(files["binary"])}
        )
        assert refused is not None and not refused["ok"] and "picture.png" in refused["error"]
        stats = await asyncio.to_thread(send_command, {"cmd": "stats"})
        assert stats is not None and stats["stats"]["total_requests"] >= 1
        paused = await asyncio.to_thread(send_command, {"cmd": "pause"})
        assert paused == {"ok": True} and app.tray.state is TrayState.PAUSED
        await asyncio.to_thread(send_command, {"cmd": "show"})
        assert app.drop.isVisible()


async def test_quit_over_the_channel_ends_run(xdg: Path, qtbot: QtBot) -> None:
    registry = tone_registry()
    narrator = Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=4.0),
        providers=registry,
        default_voice=VoiceRef("tone", "440"),
    )
    tray_app = TrayApp(tone_settings(), narrator=narrator, providers=registry, hotkeys=False)
    running = asyncio.ensure_future(tray_app.run())
    await asyncio.wait_for(tray_app.ready.wait(), timeout=10)
    assert tray_app.drop.isVisible()  # the first run shows the drop window
    reply = await asyncio.to_thread(send_command, {"cmd": "quit"})
    assert reply == {"ok": True}
    assert await asyncio.wait_for(running, timeout=10) == 0
    assert not (Path(os.environ["XDG_RUNTIME_DIR"]) / "voxtray" / "voxtray.sock").exists()
    assert (xdg / "state" / "voxtray" / "last-session-stats.json").exists()


# -- Piper ----------------------------------------------------------------------------------------


@pytest.mark.piper
async def test_bridge_with_the_piper_voice() -> None:
    from voxtray.core.model import SpeakRequest
    from voxtray.core.providers.piper import PiperProvider

    registry = ProviderRegistry({"piper": PiperProvider})
    narrator = Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=8.0),
        providers=registry,
        default_voice=VoiceRef("piper", "en_US-joe-medium"),
    )
    async with narrator:
        bridge = NarratorBridge(narrator)
        latencies: list[float] = []
        bridge.firstAudio.connect(lambda _id, latency: latencies.append(latency))
        narrator.speak(SpeakRequest(text="Hello from the tray."))
        await wait_signal(bridge.finished, limit=60)
        assert len(latencies) == 1 and latencies[0] > 0
        assert bridge.state is TrayState.IDLE
        bridge.close()


# -- no display -----------------------------------------------------------------------------------


def test_no_display_is_said_plainly() -> None:
    problem = display_problem({}, "linux")
    assert problem is not None and "DISPLAY" in problem
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    unreachable = display_problem({"DISPLAY": ":4242"}, "linux")
    assert unreachable is not None and ":4242" in unreachable
    assert display_problem({}, "win32") is None
