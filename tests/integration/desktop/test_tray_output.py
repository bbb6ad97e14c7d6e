"""Output device and latency chosen in the settings dialog take effect at once, while speaking.

The app as a user runs it (its own sound card output, the real player) plays into a private
PulseAudio server; a second null sink with a PortAudio device of its own is the other output.
The dialog is driven like a user would, offscreen; what reaches each sink is recorded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from voxtray.core.audio.player import Player
from voxtray.core.model import RequestFinished
from voxtray.core.settings import Settings, VoiceSettings
from voxtray.desktop.app import TrayApp
from voxtray.desktop.windows.settings import SettingsDialog

from tests.harness.cloud import eventually
from tests.harness.pulse import SECOND_SINK, PulseServer, second_device
from tests.harness.qtasync import wait_signal
from tests.harness.signal import sound_spans

pytestmark = pytest.mark.sound

TEXT = "A request long enough to switch the output during it. And a second sentence after it."


async def test_device_and_latency_from_the_settings_apply_while_speaking(
    xdg: Path, pulse: PulseServer
) -> None:
    with second_device(pulse) as device:
        app = TrayApp(
            Settings(voice=VoiceSettings(provider="tone", voice="440")), hotkeys=False, save=False
        )
        await app.start()
        try:
            player = app.output
            assert isinstance(player, Player)  # the sound card, as the app opens it
            granted = player.counters().latency
            with pulse.recorder(f"{SECOND_SINK}.monitor") as after:
                handle = app.speak(text=TEXT)
                await wait_signal(app.bridge.firstAudio)

                app.show_settings()
                dialog = app.settings_dialog
                assert isinstance(dialog, SettingsDialog)
                index = dialog.device.findData(device)
                assert index > 0, "the dialog does not list the second device"
                dialog.device.setCurrentIndex(index)
                dialog.latency.setValue(150)
                dialog.ok_button.click()
                assert app.settings.audio.device == device
                assert app.settings.audio.latency == 0.15

                # No restart: the same player moves over while the request goes on.
                assert await eventually(lambda: player.counters().device == device, within=10.0)
                assert not handle.done
                heard = await asyncio.to_thread(after.wait_for_sound, 0.05, 10.0)
                assert heard, "nothing reached the second sink"
                outcome = await handle.wait()
                assert isinstance(outcome, RequestFinished), outcome
                await asyncio.sleep(player.counters().latency + 0.2)  # the device plays it out
            assert player.counters().latency > granted  # 150 ms asked for, not 100 ms
        finally:
            await app.shutdown()
    spans = sound_spans(after.result.samples, after.result.rate)
    assert spans and sum(s.duration for s in spans) > 1.0  # the rest of the request, there
