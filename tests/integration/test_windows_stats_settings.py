"""The statistics window and the settings dialog, driven like a user would (pytest-qt, offscreen).

The dialog's engine callables are coroutines; the tests that use them are async and run on
pytest-asyncio's loop, where the dialog's tasks run. Screenshots of both windows are saved to
``artifacts/screenshots/`` for review and the README.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLineEdit, QWidget
from pytestqt.qtbot import QtBot
from voxtray.core.audio.output import OutputDevice
from voxtray.core.model import Priority, RequestId, Voice
from voxtray.core.narrator import QueuedItem
from voxtray.core.settings import (
    AppSettings,
    AudioSettings,
    ElevenLabsSettings,
    HotkeySettings,
    Settings,
    VoiceSettings,
)
from voxtray.core.stats import LatencySummary, OutputInfo, StatsSnapshot
from voxtray.desktop.windows.settings import HOTKEY_ACTIONS, HotkeyEdit, SettingsDialog
from voxtray.desktop.windows.stats import REFRESH_MS, StatsWindow

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier


def busy_snapshot(**changes: object) -> StatsSnapshot:
    values: dict[str, object] = {
        "total_requests": 14,
        "successful_requests": 9,
        "failed_requests": 1,
        "canceled_requests": 2,
        "queue_size": 2,
        "current_request": RequestId(7),
        "current_label": "Chapter 3 — The harbour at dawn",
        "worker_running": True,
        "segments_played": 83,
        "characters_spoken": 12345,
        "time_to_first_audio": LatencySummary(last=0.243, p50=0.21, p95=0.612, count=12),
        "recent_first_audio": (0.31, 0.22, 0.19, 0.612, 0.2, 0.25, 0.18, 0.21, 0.243),
        "underruns": 3,
        "gap_seconds": 0.12,
        "frames_played": 48000 * 90,
        "output": OutputInfo(device="TestSink", sample_rate=48000, latency=0.1),
        "retries": 4,
        "fallbacks": 1,
        "last_fallback_reason": "ElevenLabs quota exceeded",
        "providers": {
            "elevenlabs": {
                "requests": 20,
                "characters_billed": 5000,
                "rate_limited": {"concurrent_requests": 2, "system_busy": 1},
            }
        },
        "current_progress": 0.4,
        "provider_health": {
            "elevenlabs": {"state": "failing", "retry_in": 42.0, "last_error": "Quota exceeded."},
            "piper": {"state": "working"},
        },
    }
    values.update(changes)
    return StatsSnapshot(**values)  # type: ignore[arg-type]


QUEUE = [
    QueuedItem(RequestId(7), "Chapter 3 — The harbour at dawn", Priority.NORMAL, playing=True),
    QueuedItem(RequestId(8), "Clipboard: meeting notes", Priority.HIGH, playing=False),
    QueuedItem(RequestId(9), "report.pdf", Priority.LOW, playing=False),
]


class Engine:
    """What the stats window reads, changeable by the test."""

    def __init__(self) -> None:
        self.snapshot = busy_snapshot()
        self.queue = list(QUEUE)
        self.canceled: list[RequestId] = []

    def window(self) -> StatsWindow:
        return StatsWindow(lambda: self.snapshot, lambda: list(self.queue), self.canceled.append)


@pytest.fixture
def engine() -> Engine:
    return Engine()


@pytest.fixture
def stats(engine: Engine, qtbot: QtBot) -> StatsWindow:
    window = engine.window()
    qtbot.addWidget(window)
    return window


def focusable(root: QWidget) -> list[QWidget]:
    return [
        w
        for w in root.findChildren(QWidget)
        if w.isVisibleTo(root)
        and w.focusPolicy() & Qt.FocusPolicy.TabFocus
        and not w.objectName().startswith("qt_")
        and not isinstance(w.parentWidget(), QComboBox)  # a combo's own line edit
    ]


def tab_through(qtbot: QtBot, window: QWidget, start: QWidget, presses: int) -> list[QWidget]:
    """Press Tab ``presses`` times from ``start``; the widgets that had the focus, in order."""
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    start.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is start)
    visited = [start]
    for _ in range(presses):
        widget = QApplication.focusWidget()
        assert widget is not None
        qtbot.keyClick(widget, Qt.Key.Key_Tab)
        now = QApplication.focusWidget()
        assert now is not None
        if isinstance(now.parentWidget(), QComboBox):
            now = now.parentWidget()
        visited.append(now)
    return visited


# The statistics window.


def test_stats_window_shows_the_snapshot(stats: StatsWindow) -> None:
    shown = {key: stats.figure(key) for key in stats._figures}
    assert shown == {
        "ttfa_last": "0.243 s",
        "ttfa_p50": "0.210 s",
        "ttfa_p95": "0.612 s",
        "underruns": "3",
        "gap_seconds": "0.120 s",
        "characters": "12,345",
        "segments": "83",
        "total": "14",
        "finished": "9",
        "failed": "1",
        "canceled": "2",
        "retries": "4",
        "fallbacks": "1",
        "fallback_reason": "ElevenLabs quota exceeded",
        "providers": "elevenlabs: failing, next try in 42 s (last error: Quota exceeded.)\n"
        "piper: working",
        "rate_limited": "3",
        "billed": "5,000",
        "cache_hits": "—",
        "quota": "—",
        "device": "TestSink",
        "rate": "48,000 Hz",
        "latency": "0.100 s",
    }
    assert stats.current_label.text() == "Chapter 3 — The harbour at dawn"
    assert stats.current_progress.value() == 400
    assert stats.sparkline.values == busy_snapshot().recent_first_audio
    assert "latest 0.243 s" in stats.sparkline.accessibleDescription()
    assert [request for request, _ in stats.queue_rows()] == [7, 8, 9]


def test_stats_window_without_data_shows_dashes(qtbot: QtBot) -> None:
    window = StatsWindow(StatsSnapshot, list, lambda _: None)
    qtbot.addWidget(window)
    for key in ("ttfa_last", "ttfa_p50", "ttfa_p95", "rate_limited", "billed", "quota", "device"):
        assert window.figure(key) == "—"
    assert window.current_label.text() == "Nothing is playing"
    assert window.queue_rows() == []
    assert window.sparkline.values == ()


def test_cloud_figures_add_up_over_providers_and_show_quota(qtbot: QtBot) -> None:
    snapshot = busy_snapshot(
        providers={
            "elevenlabs": {
                "characters_billed": 100,
                "quota": {"used": 9000, "limit": 10000},
            },
            "other": {"characters_billed": 20, "rate_limited": 5},
        },
        cache_hits=4,
        cache_misses=6,
    )
    window = StatsWindow(lambda: snapshot, list, lambda _: None)
    qtbot.addWidget(window)
    assert window.figure("billed") == "120"
    assert window.figure("cache_hits") == "4 of 10"
    assert window.figure("rate_limited") == "5"
    assert window.figure("quota") == "elevenlabs: 9,000 / 10,000 characters"


def test_quota_shows_when_it_resets(qtbot: QtBot) -> None:
    resets = time.mktime((2026, 9, 12, 10, 30, 0, 0, 0, -1))  # local time, as the user sees it
    snapshot = busy_snapshot(
        providers={
            "elevenlabs": {"quota": {"used": 1234, "limit": 10000, "resets_at": resets}},
        }
    )
    window = StatsWindow(lambda: snapshot, list, lambda _: None)
    qtbot.addWidget(window)
    assert window.figure("quota") == "1,234 / 10,000 characters, resets 2026-09-12 10:30"


def test_stats_window_refreshes_on_its_timer_while_visible(
    engine: Engine, stats: StatsWindow, qtbot: QtBot
) -> None:
    assert REFRESH_MS <= 500  # at least twice a second
    stats.show()
    qtbot.waitExposed(stats)
    assert stats.timer.isActive()
    engine.snapshot = busy_snapshot(
        underruns=5,
        time_to_first_audio=LatencySummary(last=1.5, p50=0.3, p95=1.5, count=13),
        current_progress=0.75,
    )
    engine.queue = engine.queue[:2]
    qtbot.waitUntil(lambda: stats.figure("underruns") == "5", timeout=2000)
    assert stats.figure("ttfa_last") == "1.50 s"
    assert [request for request, _ in stats.queue_rows()] == [7, 8]
    assert stats.current_progress.value() == 750
    stats.hide()
    assert not stats.timer.isActive()


def test_cancel_buttons_cancel_their_own_item(
    engine: Engine, stats: StatsWindow, qtbot: QtBot
) -> None:
    rows = dict(stats.queue_rows())
    qtbot.mouseClick(rows[RequestId(8)], Qt.MouseButton.LeftButton)
    assert engine.canceled == [8]
    stats.show()
    qtbot.waitExposed(stats)
    rows[RequestId(9)].setFocus()
    qtbot.keyClick(rows[RequestId(9)], Qt.Key.Key_Space)  # by keyboard too
    assert engine.canceled == [8, 9]
    assert rows[RequestId(9)].accessibleName() == "Cancel report.pdf"


def test_a_removed_row_does_not_take_the_keyboard_focus_with_it(
    engine: Engine, stats: StatsWindow, qtbot: QtBot
) -> None:
    stats.show()
    stats.activateWindow()
    qtbot.waitExposed(stats)
    rows = dict(stats.queue_rows())
    rows[RequestId(8)].setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is rows[RequestId(8)])
    engine.queue = [item for item in engine.queue if item.request_id != 8]
    stats.refresh()
    assert [request for request, _ in stats.queue_rows()] == [7, 9]
    assert QApplication.focusWidget() is stats.close_button


def test_stats_window_is_keyboard_accessible(stats: StatsWindow, qtbot: QtBot) -> None:
    controls = focusable(stats)
    unnamed = [
        type(w).__name__ + ":" + getattr(w, "text", str)()
        for w in controls
        if not w.accessibleName()
    ]
    assert unnamed == []
    visited = tab_through(qtbot, stats, stats.current_label, len(controls))
    assert set(controls) <= set(visited)
    buttons = [button for _, button in stats.queue_rows()]
    order = [visited.index(button) for button in buttons]
    assert order == sorted(order) and order[0] == 1  # the queue first, top to bottom
    qtbot.keyClick(stats.close_button, Qt.Key.Key_Escape)
    assert not stats.isVisible()


def test_stats_window_screenshot(stats: StatsWindow, qtbot: QtBot) -> None:
    stats.show()
    qtbot.waitExposed(stats)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert stats.grab().save(str(SCREENSHOTS / "stats-window-widget.png"))


# The settings dialog.

CUSTOM = Settings(
    voice=VoiceSettings(provider="elevenlabs", voice="Rachel", rate=1.25),
    audio=AudioSettings(device="USB Headset", volume=0.5),
    elevenlabs=ElevenLabsSettings(model="eleven_turbo_v2_5"),
    hotkeys=HotkeySettings(read_now="Meta+F9", skip="", read_now_while_playing="queue"),
    app=AppSettings(start_at_login=False),
)

DEVICES = [
    OutputDevice("Built-in Audio", 0, 48000.0, True, "ALSA"),
    OutputDevice("TestSink", 1, 48000.0, False, "pulse"),
]


class Keyring:
    """A stand-in for the keyring calls; it records what it was given."""

    def __init__(self) -> None:
        self.saved: list[str] = []
        self.reads = 0

    async def save_key(self, key: str) -> None:
        self.saved.append(key)

    async def delete_key(self) -> bool:
        had = bool(self.saved)
        self.saved.clear()
        return had

    async def stored_key(self) -> str | None:
        self.reads += 1
        return f"••••{self.saved[-1][-4:]}" if self.saved else None

    async def key_status(self) -> str:
        if not self.saved:
            return "No key is stored."
        return f"Valid key ending …{self.saved[-1][-4:]}: 8,000 characters left this month."


async def list_voices(provider: str) -> list[Voice]:
    if provider == "elevenlabs":
        return [
            Voice("elevenlabs", "21m00Tcm4TlvDq8ikWAM", "Rachel", "en", 22050),
            Voice("elevenlabs", "pNInz6obpgDQGcFmaJgB", "Adam", "en", 22050),
        ]
    return [Voice("piper", "en_US-joe-medium", "Joe", "en_US", 22050)]


def dialog_for(qtbot: QtBot, settings: Settings, **callables: object) -> SettingsDialog:
    dialog = SettingsDialog(settings, devices=lambda: list(DEVICES), **callables)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    return dialog


def accepted(dialog: SettingsDialog, qtbot: QtBot) -> Settings:
    with qtbot.waitSignal(dialog.saved, timeout=1000) as signal:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    (value,) = signal.args
    assert isinstance(value, Settings)
    return value


def test_settings_round_trip_unchanged(qtbot: QtBot) -> None:
    for settings in (Settings(), CUSTOM):
        dialog = dialog_for(qtbot, settings)
        assert accepted(dialog, qtbot) == settings


def test_settings_dialog_changes_are_returned(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    dialog = dialog_for(qtbot, Settings())
    dialog.provider.setCurrentIndex(dialog.provider.findData("elevenlabs"))
    dialog.voice.setEditText("Adam")
    dialog.model.setEditText("eleven_multilingual_v2")
    dialog.speed.setValue(1.5)
    dialog.volume.setValue(80)
    dialog.device.setCurrentIndex(dialog.device.findData("TestSink"))
    dialog.hotkeys["stop"].set_hotkey_text("ctrl+shift+x")
    dialog.read_now_source.setCurrentIndex(dialog.read_now_source.findData("selection"))
    dialog.while_playing.setCurrentIndex(dialog.while_playing.findData("queue"))
    dialog.start_at_login.setChecked(True)
    new = accepted(dialog, qtbot)
    assert new == Settings(
        voice=VoiceSettings(provider="elevenlabs", voice="Adam", rate=1.5),
        audio=AudioSettings(device="TestSink", volume=0.8),
        elevenlabs=ElevenLabsSettings(model="eleven_multilingual_v2"),
        hotkeys=HotkeySettings(
            stop="Ctrl+Shift+X", read_now_source="selection", read_now_while_playing="queue"
        ),
        app=AppSettings(start_at_login=True),
    )
    entry = tmp_path / "config" / "autostart" / "voxtray.desktop"
    assert entry.is_file()

    dialog = dialog_for(qtbot, new)
    dialog.start_at_login.setChecked(False)
    assert accepted(dialog, qtbot).app.start_at_login is False
    assert not entry.exists()


def test_a_hotkey_is_recorded_from_key_presses(qtbot: QtBot) -> None:
    dialog = dialog_for(qtbot, Settings())
    edit = dialog.hotkeys["read_next"]
    dialog.show()
    qtbot.waitExposed(dialog)
    edit.setFocus()

    qtbot.keyPress(edit, Qt.Key.Key_Control, Qt.KeyboardModifier.ControlModifier)
    assert edit.text() == "Ctrl+…"  # what is held so far
    qtbot.keyRelease(edit, Qt.Key.Key_Control)
    assert edit.text() == "Ctrl+Alt+N"

    qtbot.keyClick(edit, Qt.Key.Key_F, CTRL_ALT)
    assert (edit.hotkey_text, edit.text()) == ("Ctrl+Alt+F", "Ctrl+Alt+F")

    qtbot.keyClick(edit, Qt.Key.Key_G)  # a plain letter would steal typing everywhere
    assert edit.hotkey_text == "Ctrl+Alt+F"
    assert "needs Ctrl, Alt or Meta" in dialog.hotkey_problem.text()

    qtbot.keyClick(edit, Qt.Key.Key_F7, Qt.KeyboardModifier.ShiftModifier)
    assert edit.hotkey_text == "Shift+F7"
    assert dialog.hotkey_problem.text() == ""

    qtbot.keyClick(edit, Qt.Key.Key_Backspace)  # turns it off
    assert edit.hotkey_text == ""
    assert accepted(dialog, qtbot).hotkeys.read_next == ""


def test_escape_in_a_hotkey_field_closes_the_dialog_unchanged(qtbot: QtBot) -> None:
    """Escape is not recorded as a hotkey: it leaves the dialog, as everywhere else."""
    dialog = dialog_for(qtbot, Settings())
    saved: list[object] = []
    dialog.saved.connect(saved.append)
    dialog.show()
    qtbot.waitExposed(dialog)
    edit = dialog.hotkeys["stop"]
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and saved == []
    assert edit.hotkey_text == "Ctrl+Alt+S"


def test_one_combination_for_two_actions_is_refused(qtbot: QtBot) -> None:
    dialog = dialog_for(qtbot, Settings())
    edit = dialog.hotkeys["skip"]
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_R, CTRL_ALT)
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.status.text() == "Ctrl+Alt+R is set for both Read now and Skip sentence."
    assert dialog.isVisible() or dialog.result() == 0


def test_a_hand_written_hotkey_that_does_not_parse_is_shown_and_refused(qtbot: QtBot) -> None:
    dialog = dialog_for(qtbot, Settings(hotkeys=HotkeySettings(pause="Hyper+P")))
    assert dialog.hotkeys["pause"].text() == "Hyper+P"
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "Pause / resume" in dialog.status.text() and "not a modifier" in dialog.status.text()
    qtbot.mouseClick(dialog._hotkey_clear["pause"], Qt.MouseButton.LeftButton)
    assert accepted(dialog, qtbot).hotkeys.pause == ""


async def test_the_key_is_masked_saved_to_the_keyring_and_tested(qtbot: QtBot) -> None:
    keyring = Keyring()
    dialog = dialog_for(qtbot, CUSTOM, save_key=keyring.save_key, key_status=keyring.key_status)
    secret = "sk_live_0123456789abcdefWXYZ"
    dialog.api_key.setFocus()
    qtbot.keyClicks(dialog.api_key, secret)
    assert dialog.api_key.echoMode() == QLineEdit.EchoMode.Password
    assert secret not in dialog.api_key.displayText()

    qtbot.mouseClick(dialog.test_key, Qt.MouseButton.LeftButton)
    assert dialog.api_key.text() == ""  # handed over, not kept in the widget
    await dialog.settle()
    assert keyring.saved == [secret]
    assert dialog.key_answer.text() == "Valid key ending …WXYZ: 8,000 characters left this month."

    qtbot.keyClicks(dialog.api_key, "sk_second_key_9999")
    new = accepted(dialog, qtbot)
    await dialog.settle()
    assert keyring.saved == [secret, "sk_second_key_9999"]
    assert secret not in repr(new) and "9999" not in repr(new)
    texts = [
        w.text()
        for w in dialog.findChildren(QLineEdit) + dialog.findChildren(QWidget)
        if hasattr(w, "text") and callable(w.text)
    ]
    assert not any(secret in text or "sk_second" in text for text in texts)


async def test_a_failing_key_check_is_reported_without_the_key(qtbot: QtBot) -> None:
    async def broken_status() -> str:
        raise ConnectionError("api.elevenlabs.io is unreachable")

    dialog = dialog_for(qtbot, CUSTOM, key_status=broken_status)
    qtbot.mouseClick(dialog.test_key, Qt.MouseButton.LeftButton)
    await dialog.settle()
    assert dialog.key_answer.text() == (
        "The key could not be checked (ConnectionError: api.elevenlabs.io is unreachable)."
    )
    assert dialog.test_key.isEnabled()


async def test_voices_are_listed_for_the_chosen_provider(qtbot: QtBot) -> None:
    dialog = dialog_for(qtbot, CUSTOM, voices=list_voices)
    await dialog.settle()
    names = [dialog.voice.itemText(i) for i in range(dialog.voice.count())]
    assert names == ["Default voice", "Adam · en", "Rachel · en"]
    dialog.voice.setCurrentIndex(1)
    dialog.provider.setCurrentIndex(dialog.provider.findData("piper"))
    await dialog.settle()
    assert [dialog.voice.itemText(i) for i in range(dialog.voice.count())] == [
        "Default voice",
        "Joe · en_US",
    ]
    assert not dialog.model.isEnabled() and not dialog.test_key.isEnabled()
    dialog.voice.setCurrentIndex(1)
    new = accepted(dialog, qtbot)
    assert new.voice == VoiceSettings(provider="piper", voice="en_US-joe-medium", rate=1.25)


async def test_the_voice_in_the_settings_is_selected_by_id(qtbot: QtBot) -> None:
    settings = CUSTOM.replace(voice=CUSTOM.voice.replace(voice="pNInz6obpgDQGcFmaJgB"))
    dialog = dialog_for(qtbot, settings, voices=list_voices)
    await dialog.settle()
    assert dialog.voice.currentText() == "Adam · en"
    assert accepted(dialog, qtbot) == settings


def test_settings_dialog_is_keyboard_accessible(qtbot: QtBot) -> None:
    keyring = Keyring()
    dialog = dialog_for(
        qtbot,
        CUSTOM,
        save_key=keyring.save_key,
        key_status=keyring.key_status,
        delete_key=keyring.delete_key,
    )
    controls = dialog.controls()
    assert set(focusable(dialog)) == set(controls)
    assert [w for w in controls if not w.accessibleName()] == []
    assert len({w.accessibleName() for w in controls}) == len(controls)
    visited = tab_through(qtbot, dialog, controls[0], len(controls) - 1)
    assert visited == controls  # every control, in reading order, by Tab alone

    # A hotkey field does not swallow Tab: keyboard users are not trapped in it.
    edit = dialog.hotkeys["stop"]
    edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is edit)
    qtbot.keyClick(edit, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog._hotkey_clear["stop"]
    assert edit.hotkey_text == "Ctrl+Alt+S"

    buttons = [w for w in controls if isinstance(w, QAbstractButton)]
    assert all(b.focusPolicy() & Qt.FocusPolicy.TabFocus for b in buttons)


def test_output_latency_is_edited_in_milliseconds(qtbot: QtBot) -> None:
    dialog = dialog_for(qtbot, Settings())
    assert dialog.latency.value() == 100 and dialog.latency.suffix() == " ms"
    dialog.latency.setValue(250)
    assert accepted(dialog, qtbot).audio.latency == 0.25
    odd = Settings(audio=AudioSettings(latency=0.1234))
    assert accepted(dialog_for(qtbot, odd), qtbot) == odd  # shown as 123 ms, kept as it was


async def test_the_stored_key_can_be_removed(qtbot: QtBot) -> None:
    keyring = Keyring()
    keyring.saved.append("sk_stored_before")
    plain = dialog_for(qtbot, CUSTOM)  # no delete_key given: no button
    assert not plain.forget_key.isVisibleTo(plain) and plain.forget_key not in plain.controls()
    dialog = dialog_for(qtbot, CUSTOM, delete_key=keyring.delete_key)
    assert dialog.forget_key.isVisibleTo(dialog) and dialog.forget_key.isEnabled()
    qtbot.mouseClick(dialog.forget_key, Qt.MouseButton.LeftButton)
    await dialog.settle()
    assert keyring.saved == []
    assert dialog.key_answer.text() == "The stored key was removed."
    qtbot.mouseClick(dialog.forget_key, Qt.MouseButton.LeftButton)
    await dialog.settle()
    assert dialog.key_answer.text() == "No key was stored in the keyring."
    dialog.provider.setCurrentIndex(dialog.provider.findData("piper"))
    assert not dialog.forget_key.isEnabled()  # the key belongs to the cloud voice


def test_hotkey_edits_are_named_after_their_action(qtbot: QtBot) -> None:
    dialog = dialog_for(qtbot, Settings())
    for action, title in HOTKEY_ACTIONS.items():
        edit = dialog.hotkeys[action]
        assert isinstance(edit, HotkeyEdit)
        assert edit.accessibleName() == f"Hotkey: {title}"
        assert edit.hotkey_text == getattr(Settings().hotkeys, action)


def test_settings_dialog_screenshot(qtbot: QtBot) -> None:
    keyring = Keyring()
    dialog = dialog_for(qtbot, CUSTOM, save_key=keyring.save_key, key_status=keyring.key_status)
    dialog.api_key.setText("sk_for_the_picture")
    dialog.key_answer.setText("Valid key ending …1234: 8,000 characters left this month.")
    dialog.resize(560, 780)
    dialog.show()
    qtbot.waitExposed(dialog)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOTS / "settings-dialog-widget.png"))


async def test_the_stored_key_is_named_masked_never_shown(qtbot: QtBot) -> None:
    keyring = Keyring()
    keyring.saved.append("sk_stored_before_Q7Z3")
    dialog = dialog_for(qtbot, CUSTOM, stored_key=keyring.stored_key, delete_key=keyring.delete_key)
    await dialog.settle()
    assert dialog.api_key.text() == ""  # the field itself stays empty
    assert dialog.api_key.placeholderText() == "Stored key ••••Q7Z3 (type a new one to replace it)"
    assert "Q7Z3" in dialog.api_key.accessibleDescription()
    assert "sk_stored" not in dialog.api_key.placeholderText()
    qtbot.mouseClick(dialog.forget_key, Qt.MouseButton.LeftButton)
    await dialog.settle()
    assert dialog.api_key.placeholderText() == "No key stored: paste your ElevenLabs API key"


async def test_the_keyring_is_not_read_unless_the_cloud_voice_is_chosen(qtbot: QtBot) -> None:
    """Reading it may make the system ask for the keyring's password: not for a hotkey change."""
    keyring = Keyring()
    dialog = dialog_for(qtbot, Settings(), stored_key=keyring.stored_key)
    await dialog.settle()
    assert keyring.reads == 0
    dialog.provider.setCurrentIndex(dialog.provider.findData("elevenlabs"))
    await dialog.settle()
    assert keyring.reads == 1
