"""The tray app with the cloud voice: the key from a real Secret Service, the ElevenLabs fake
server, the real engine; only the sound card is the clocked in-memory output.

What is checked: a key saved or removed in the settings dialog is the key of the very next
request; choosing the cloud voice reads the keyring in a thread, never on the event loop; the
quota reaches the statistics window, and passing 90 % of it is one notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from voxtray.core import engine as engine_module
from voxtray.core import secrets
from voxtray.core.model import RequestFailed, RequestFinished, VoiceRef
from voxtray.core.secrets import Secret, set_api_key
from voxtray.core.settings import Settings, VoiceSettings
from voxtray.desktop.app import TrayApp
from voxtray.desktop.notices import Notice
from voxtray.desktop.windows.settings import SettingsDialog
from voxtray.desktop.windows.stats import StatsWindow

from tests.fakes.clocked_output import ClockedOutput
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import RACHEL, cloud_settings, eventually
from tests.harness.keyring import SecretServiceSession
from tests.harness.qtasync import wait_until

KEY = "test-key"
SECOND_KEY = "second-test-key"


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone", tone_seconds_per_char=0.005)
    return fake_elevenlabs


@contextlib.asynccontextmanager
async def cloud_app(settings: Settings) -> AsyncIterator[TrayApp]:
    """The app as a user starts it (its own providers, key holder and narrator), started."""
    app = TrayApp(
        settings,
        output=ClockedOutput(sample_rate=22050, speed=20.0),
        hotkeys=False,
        save=False,
        notice_window=0.2,
    )
    await app.start()
    try:
        yield app
    finally:
        await app.shutdown()


def open_settings(app: TrayApp) -> SettingsDialog:
    app.show_settings()
    dialog = app.settings_dialog
    assert isinstance(dialog, SettingsDialog)
    return dialog


async def finish_tasks(dialog: SettingsDialog) -> None:
    """Wait for the keyring work the dialog started (a voice list it no longer needs, once OK
    closed it, ends cancelled)."""
    await dialog.settle()


async def test_a_key_saved_or_removed_in_the_settings_is_the_next_requests_key(
    xdg: Path, secret_service: SecretServiceSession, fake: FakeElevenLabs
) -> None:
    fake.add_key(SECOND_KEY)
    set_api_key("elevenlabs", KEY)
    async with cloud_app(cloud_settings(fake, transport="auto", fallback=False)) as app:
        done = await app.speak(text="Spoken with the first key, then more.").wait()
        assert isinstance(done, RequestFinished), done
        first = fake.billed(KEY)
        assert first > 0

        dialog = open_settings(app)
        assert dialog.api_key.isEnabled()  # the app hands the dialog its keyring calls
        dialog.api_key.setText(SECOND_KEY)
        dialog.ok_button.click()
        await finish_tasks(dialog)
        assert secret_service.lookup("voxtray", "elevenlabs") == SECOND_KEY

        done = await app.speak(text="Spoken with the second key, over both transports.").wait()
        assert isinstance(done, RequestFinished), done
        assert fake.billed(KEY) == first  # not one more character on the old key
        assert fake.billed(SECOND_KEY) > 0
        sockets = [c for c in fake.websocket_contexts if c.contexts]
        assert sockets and sockets[-1].key_fingerprint != sockets[0].key_fingerprint

        dialog = open_settings(app)
        dialog.forget_key.click()
        await finish_tasks(dialog)
        assert dialog.key_answer.text() == "The stored key was removed."
        assert secret_service.lookup("voxtray", "elevenlabs") is None
        dialog.reject()
        second = fake.billed(SECOND_KEY)
        failed = await app.speak(text="No key any more.").wait()
        assert isinstance(failed, RequestFailed), failed
        assert "key" in failed.reason.lower()
        assert fake.billed(SECOND_KEY) == second


async def test_choosing_the_cloud_voice_reads_the_keyring_off_the_event_loop(
    xdg: Path,
    secret_service: SecretServiceSession,
    fake: FakeElevenLabs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_api_key("elevenlabs", KEY)
    reads: list[threading.Thread] = []
    real = secrets.get_api_key

    def spy(service: str = "elevenlabs") -> Secret | None:
        reads.append(threading.current_thread())
        return real(service)

    monkeypatch.setattr(secrets, "get_api_key", spy)  # what aget_api_key runs in its thread
    monkeypatch.setattr(engine_module, "get_api_key", spy)  # ApiKeyHolder's read on the loop
    settings = cloud_settings(fake).replace(voice=VoiceSettings(provider="tone", voice="440"))
    async with cloud_app(settings) as app:
        assert reads == []  # the tone voice needs no key
        app.choose_voice(VoiceRef("elevenlabs", RACHEL))
        assert app.narrator.default_voice.provider == "tone"  # not before the key was read
        assert app.tray.voice_menu is not None
        assert await eventually(
            lambda: app.narrator.default_voice.provider == "elevenlabs", within=10.0
        )
        done = await app.speak(text="Now in the cloud voice.").wait()
        assert isinstance(done, RequestFinished), done
        assert fake.billed(KEY) > 0
    assert reads, "the key was never read"
    assert all(thread is not threading.main_thread() for thread in reads), reads


async def test_quota_in_the_stats_window_and_one_notice_past_90_percent(
    xdg: Path, secret_service: SecretServiceSession, fake: FakeElevenLabs
) -> None:
    set_api_key("elevenlabs", KEY)
    fake.exhaust_quota(KEY, remaining=1_060)  # 8,940 of 10,000 used: under the mark
    reset = fake.state.subscription(KEY)["next_character_count_reset_unix"]
    async with cloud_app(cloud_settings(fake, transport="http", fallback=False)) as app:
        warned: list[tuple[Any, ...]] = []
        app.bridge.quotaLow.connect(lambda *args: warned.append(args))

        def known() -> Any:
            return app.narrator.stats().providers.get("elevenlabs", {}).get("quota")

        assert await eventually(
            lambda: known() is not None, within=10.0
        )  # learned while warming up
        done = await app.speak(text="Short one.").wait()
        assert isinstance(done, RequestFinished), done
        assert warned == []

        app.show_stats()
        window = app.stats_window
        assert isinstance(window, StatsWindow)
        window.refresh()
        day = time.strftime("%Y-%m-%d %H:%M", time.localtime(reset))
        used = fake.billed(KEY)
        assert window.figure("quota") == f"{used:,} / 10,000 characters, resets {day}"

        notice = asyncio.ensure_future(
            wait_until(app.notifier.shown, lambda shown: "quota" in shown.title)
        )
        done = await app.speak(text="This sentence takes the account past ninety percent.").wait()
        assert isinstance(done, RequestFinished), done
        (shown,) = await notice
        assert isinstance(shown, Notice)
        assert shown.title == "ElevenLabs quota almost used up"
        assert "of 10,000 characters used" in shown.message
        assert warned == [("elevenlabs", fake.billed(KEY), 10_000)]
        window.refresh()
        assert window.figure("quota").startswith(f"{fake.billed(KEY):,} / 10,000")

        done = await app.speak(text="And one more, still past the mark.").wait()
        assert isinstance(done, RequestFinished), done
        assert len(warned) == 1  # once, not after every request
