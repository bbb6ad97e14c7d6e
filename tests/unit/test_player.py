"""The player's logic against a fake stream whose callback the test drives by hand.

The fake runs the callback on the test's own thread: ``call_soon_threadsafe`` works from there
too, and every interleaving is deterministic.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from voxtray.core.audio.player import OpenedStream, Player, StreamSpec
from voxtray.core.errors import NoOutputDeviceError, OutputDeviceLostError
from voxtray.core.model import AudioChunk

RATE = 48000


@dataclass
class Status:
    output_underflow: bool = False


@dataclass
class FakeStream:
    spec: StreamSpec
    samplerate: float = RATE
    latency: float = 0.1
    active: bool = False
    closed: bool = False
    calls: list[str] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        self.calls.append("start")
        self.active = True

    def stop(self) -> None:
        self.calls.append("stop")
        self.active = False
        self.stopped.set()
        self.spec.finished_callback()  # PortAudio reports every stop, ours included

    def abort(self) -> None:
        self.calls.append("abort")
        self.active = False

    def close(self) -> None:
        self.calls.append("close")
        self.active = False
        self.closed = True

    def pull(self, frames: int, underflow: bool = False) -> np.ndarray:
        out = np.full((frames, 1), 7.0, dtype=np.float32)  # garbage the callback must overwrite
        self.spec.callback(out, frames, None, Status(underflow))
        return out[:, 0].copy()

    def die(self) -> None:
        """The device went away: PortAudio stops the stream and says so."""
        self.active = False
        self.spec.finished_callback()


class Factory:
    def __init__(self) -> None:
        self.streams: list[FakeStream] = []
        self.specs: list[StreamSpec] = []
        self.fail_next = False
        self.missing: set[object] = set()
        """Devices that cannot be opened."""
        self.exclusive = False
        """A device with an open stream cannot be opened again (an ALSA hw: device)."""

    def __call__(self, spec: StreamSpec) -> OpenedStream:
        self.specs.append(spec)
        if self.fail_next or spec.device in self.missing:
            raise NoOutputDeviceError("no device")
        if self.exclusive and any(
            s.spec.device == spec.device and not s.closed for s in self.streams
        ):
            raise NoOutputDeviceError("device busy")
        stream = FakeStream(spec)
        self.streams.append(stream)
        return OpenedStream(stream, f"fake{len(self.streams)}")

    @property
    def stream(self) -> FakeStream:
        return self.streams[-1]


def pcm(values: np.ndarray) -> AudioChunk:
    return AudioChunk((values * 32768).astype("<i2").tobytes(), RATE)


def steps(n: int, start: int = 1) -> np.ndarray:
    """Distinct exactly representable values, so the output can be compared sample by sample."""
    return (np.arange(start, start + n) % 1000 + 1).astype(np.float32) / 2048


async def settle() -> None:
    """Let the callbacks that the fake callback scheduled with call_soon_threadsafe run."""
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
async def setup() -> Any:
    factory = Factory()
    changes: list[tuple[str, str]] = []
    player = Player(
        prebuffer=0.0,
        buffer_seconds=0.25,
        stream_factory=factory,
        on_device_change=lambda device, reason: changes.append((device, reason)),
    )
    await player.open()
    yield player, factory, changes
    await player.aclose()


async def test_plays_what_was_written_then_silence(setup: Any) -> None:
    player, factory, _ = setup
    data = steps(1000)
    utt = player.start_utterance()
    await utt.write(pcm(data))
    utt.end()
    out = np.concatenate([factory.stream.pull(256) for _ in range(5)])
    np.testing.assert_array_equal(out[:1000], data)
    assert (out[1000:] == 0).all()
    await settle()
    assert utt.finished.done() and utt.first_sound.done()
    assert player.counters().frames_played == 1000
    assert player.counters().underruns == 0


async def test_events_resolve_when_playback_reaches_them(setup: Any) -> None:
    player, factory, _ = setup
    silence = np.zeros(300, dtype=np.float32)
    utt = player.start_utterance()
    await utt.write(pcm(silence))
    await utt.write(pcm(steps(400)))  # first sound at 300, the mark at 700
    mark = utt.mark()
    await utt.write(pcm(steps(200)))  # finished at 900
    utt.end()
    factory.stream.pull(256)
    await settle()
    assert not utt.first_sound.done(), "the first 300 samples are silent"
    factory.stream.pull(256)
    await settle()
    assert utt.first_sound.done() and not mark.done()
    reached = time.monotonic()
    factory.stream.pull(256)
    await settle()
    assert not utt.finished.done()
    # A mark is what a highlight follows: it resolves when its sample is *heard*, the device's
    # delay later (the fake gives no DAC time, so its latency, 0.1 s, stands in).
    assert not mark.done()
    heard_at = await asyncio.wait_for(mark, 2.0)
    assert heard_at >= reached + 0.1 - 0.01 and time.monotonic() >= reached + 0.09
    factory.stream.pull(256)
    await settle()
    assert utt.finished.done()


async def test_write_waits_for_space_and_is_woken_by_the_callback(setup: Any) -> None:
    player, factory, _ = setup
    utt = player.start_utterance()
    big = steps(RATE)  # 1 s into a 0.25 s ring
    writer = asyncio.create_task(utt.write(pcm(big)))
    await settle()
    assert not writer.done(), "the ring is full: the writer waits"
    played = []
    while not writer.done():
        played.append(factory.stream.pull(1024))
        await settle()
    await writer
    utt.end()
    for _ in range(30):
        played.append(factory.stream.pull(1024))
    out = np.concatenate(played)
    np.testing.assert_array_equal(out[: len(big)], big)  # nothing dropped, nothing repeated


async def test_discard_silences_and_drops_the_device_buffer(setup: Any) -> None:
    player, factory, _ = setup
    utt = player.start_utterance()
    await utt.write(pcm(steps(5000)))
    mark = utt.mark()
    factory.stream.pull(256)
    utt.discard()
    assert factory.stream.calls[-2:] == ["abort", "start"], "the device buffer is dropped"
    assert utt.finished.cancelled() and mark.cancelled()
    await settle()
    assert utt.first_sound.done() and not utt.first_sound.cancelled(), "it was heard"
    assert (factory.stream.pull(256) == 0).all()
    await utt.write(pcm(steps(100)))  # a no-op, no error
    assert (factory.stream.pull(256) == 0).all()
    await settle()
    assert player.counters().underruns == 0


async def test_discard_cancels_a_writer_waiting_for_space_quietly(setup: Any) -> None:
    player, _, _ = setup
    utt = player.start_utterance()
    writer = asyncio.create_task(utt.write(pcm(steps(RATE))))
    await settle()
    assert not writer.done()
    utt.discard()
    await writer  # returns, does not raise


async def test_underruns_count_dry_spells_mid_utterance_not_between(setup: Any) -> None:
    player, factory, _ = setup
    utt = player.start_utterance()
    await utt.write(pcm(steps(300)))
    factory.stream.pull(256)
    factory.stream.pull(256)  # 44 frames short: dry
    factory.stream.pull(256)  # still dry: the same spell
    await utt.write(pcm(steps(600)))
    factory.stream.pull(256)
    factory.stream.pull(256)
    counters = player.counters()
    assert counters.underruns == 1
    assert counters.gap_seconds == pytest.approx((256 - 44 + 256) / RATE)
    utt.end()
    for _ in range(4):
        factory.stream.pull(256)  # after the end: silence between utterances
    nxt = player.start_utterance()
    factory.stream.pull(256)  # nothing written yet: waiting for the first audio is no underrun
    await nxt.write(pcm(steps(100)))
    nxt.end()
    factory.stream.pull(256)
    factory.stream.pull(256, underflow=True)
    after = player.counters()
    assert after.underruns == 1 and after.gap_seconds == counters.gap_seconds
    assert after.xruns == 1


async def test_prebuffer_holds_the_start_until_enough_is_queued() -> None:
    factory = Factory()
    player = Player(prebuffer=0.01, stream_factory=factory)  # 480 frames
    await player.open()
    try:
        utt = player.start_utterance()
        await utt.write(pcm(steps(300)))
        assert (factory.stream.pull(256) == 0).all()
        await utt.write(pcm(steps(300, 301)))
        assert (factory.stream.pull(256) != 0).all()
        utt.end()
    finally:
        await player.aclose()


async def test_pause_outputs_zeros_without_consuming_and_volume_scales(setup: Any) -> None:
    player, factory, _ = setup
    data = steps(600)
    utt = player.start_utterance()
    await utt.write(pcm(data))
    utt.end()
    first = factory.stream.pull(200)
    player.pause()
    assert player.paused
    assert (factory.stream.pull(200) == 0).all()
    player.resume()
    player.volume = 0.5
    second = factory.stream.pull(200)
    player.volume = 9.0
    assert player.volume == 1.5
    np.testing.assert_array_equal(first, data[:200])
    np.testing.assert_array_equal(second, data[200:400] * 0.5)


async def test_device_lost_reopens_on_the_default_and_the_utterance_continues(
    setup: Any,
) -> None:
    player, factory, changes = setup
    data = steps(2000)
    utt = player.start_utterance()
    await utt.write(pcm(data))
    utt.end()
    old = factory.stream
    head = old.pull(500)
    old.die()
    await settle()
    assert old.closed
    assert len(factory.streams) == 2
    spec = factory.specs[-1]
    assert spec.device is None and spec.rescan and spec.samplerate == RATE
    assert changes == [("fake2", "fake1 stopped unexpectedly; reopened on fake2")]
    rest = np.concatenate([factory.stream.pull(500) for _ in range(4)])
    np.testing.assert_array_equal(np.concatenate([head, rest])[:2000], data)
    await settle()
    assert utt.finished.done() and not utt.finished.cancelled()


async def test_our_own_abort_is_not_a_lost_device(setup: Any) -> None:
    player, factory, changes = setup
    utt = player.start_utterance()
    await utt.write(pcm(steps(500)))
    factory.stream.pull(100)
    utt.discard()  # abort + start: PortAudio calls finished_callback for the abort
    factory.stream.spec.finished_callback()
    await settle()
    assert changes == [] and len(factory.streams) == 1


async def test_device_lost_with_no_replacement_fails_the_utterance(setup: Any) -> None:
    player, factory, changes = setup
    utt = player.start_utterance()
    await utt.write(pcm(steps(500)))
    writer = asyncio.create_task(utt.write(pcm(steps(RATE))))
    await settle()
    factory.fail_next = True
    factory.stream.die()
    await settle()
    with pytest.raises(OutputDeviceLostError):
        await utt.finished
    with pytest.raises(OutputDeviceLostError):
        await writer
    assert changes == [("fake1", "fake1 stopped unexpectedly; no output device is available")]
    factory.fail_next = False
    await player.open()  # a later open tries again
    assert len(factory.streams) == 2


async def test_one_live_utterance_at_a_time(setup: Any) -> None:
    player, _, _ = setup
    utt = player.start_utterance()
    with pytest.raises(RuntimeError, match="still being written"):
        player.start_utterance()
    utt.end()
    player.start_utterance().discard()


async def test_a_missing_device_names_voxtray_devices() -> None:
    player = Player("no such device, surely")
    with pytest.raises(NoOutputDeviceError, match="voxtray devices") as info:
        await player.open()
    assert info.value.__cause__ is not None


async def test_an_idle_stream_stops_and_the_next_utterance_starts_it() -> None:
    """Idle, the callback must not run at all (a tray app nobody uses costs no CPU)."""
    factory = Factory()
    changes: list[tuple[str, str]] = []
    player = Player(
        prebuffer=0.0,
        buffer_seconds=0.25,
        stream_factory=factory,
        idle_suspend=0.05,
        on_device_change=lambda device, reason: changes.append((device, reason)),
    )
    await player.open()
    try:
        utt = player.start_utterance()
        await utt.write(pcm(steps(300)))
        utt.end()
        factory.stream.pull(512)
        await settle()
        assert utt.finished.done()
        await asyncio.wait_for(factory.stream.stopped.wait(), timeout=5)
        await settle()
        assert not factory.stream.active
        assert player.suspensions == 1
        assert changes == []  # our own stop is not a lost device
        again = player.start_utterance()
        assert factory.stream.active and factory.stream.calls[-1] == "start"
        await again.write(pcm(steps(200)))
        again.end()
        out = factory.stream.pull(256)
        np.testing.assert_array_equal(out[:200], steps(200))
    finally:
        await player.aclose()


async def test_a_paused_or_playing_stream_is_not_suspended() -> None:
    factory = Factory()
    player = Player(prebuffer=0.0, buffer_seconds=0.25, stream_factory=factory, idle_suspend=0.02)
    await player.open()
    try:
        utt = player.start_utterance()
        await utt.write(pcm(steps(2000)))
        utt.end()
        player.pause()
        await asyncio.sleep(0.1)  # five idle periods: a paused utterance must keep its stream
        assert "stop" not in factory.stream.calls
        assert player.suspensions == 0
    finally:
        await player.aclose()


# -- reconfigure: another device or latency while playing ------------------------------------


async def playing(player: Player, data: np.ndarray) -> Any:
    utt = player.start_utterance()
    await utt.write(pcm(data))
    utt.end()
    return utt


async def test_a_switch_while_playing_goes_on_on_the_new_device_without_loss(
    setup: Any,
) -> None:
    player, factory, changes = setup
    data = steps(3000)
    utt = await playing(player, data)
    old = factory.stream
    head = old.pull(1000)
    switch = asyncio.create_task(player.reconfigure("other", 0.2))
    await settle()
    new = factory.stream
    assert new is not old and factory.specs[-1].device == "other"
    assert factory.specs[-1].latency == 0.2 and factory.specs[-1].samplerate == RATE
    assert not new.active  # not before the old callback has let go of the ring
    let_go = old.pull(100)
    await settle()
    assert not let_go.any() and new.active
    rest = np.concatenate([new.pull(1000) for _ in range(2)])
    np.testing.assert_array_equal(np.concatenate([head, rest]), data)  # none lost, none twice
    assert not switch.done() and not old.closed  # the old device still plays what it holds
    assert not old.pull(int(0.15 * RATE)).any()  # its latency (0.1 s) and the margin, silent
    await asyncio.wait_for(switch, timeout=5)
    assert old.closed and "abort" in old.calls
    assert player.counters().device == "fake2"
    await settle()
    assert utt.finished.done() and not utt.finished.cancelled()
    assert changes == []  # the user's own choice is not a lost device


async def test_a_switch_while_idle_needs_no_callback(setup: Any) -> None:
    player, factory, _ = setup
    old = factory.stream
    old.active = False  # suspended for being idle: no callback comes
    player._suspended = True
    await asyncio.wait_for(player.reconfigure("other"), timeout=5)
    assert old.closed and factory.stream.active and factory.specs[-1].device == "other"
    assert factory.specs[-1].latency == player.counters().latency == 0.1  # kept
    utt = await playing(player, steps(300))
    np.testing.assert_array_equal(factory.stream.pull(300), steps(300))
    await settle()
    assert utt.finished.done()


async def test_before_open_the_settings_are_kept_for_open() -> None:
    factory = Factory()
    player = Player(stream_factory=factory)
    await player.reconfigure("later", 0.3)
    assert factory.specs == []
    await player.open()
    try:
        assert factory.specs[-1].device == "later" and factory.specs[-1].latency == 0.3
        await player.reconfigure("later", 0.3)  # nothing changed: nothing reopened
        assert len(factory.streams) == 1
    finally:
        await player.aclose()


async def test_a_device_that_cannot_open_leaves_the_old_one_playing(setup: Any) -> None:
    player, factory, _ = setup
    data = steps(2000)
    await playing(player, data)
    old = factory.stream
    head = old.pull(500)
    factory.missing.add("gone")
    with pytest.raises(NoOutputDeviceError):
        await player.reconfigure("gone", 0.3)
    assert factory.stream is old and old.active and not old.closed
    np.testing.assert_array_equal(np.concatenate([head, old.pull(1500)]), data)
    await player.reconfigure(None, 0.1)  # still the settings it had: nothing to do
    assert len(factory.streams) == 1


async def test_a_latency_change_on_an_exclusive_device_reopens_it_after_it_played_out(
    setup: Any,
) -> None:
    player, factory, _ = setup
    factory.exclusive = True
    data = steps(3000)
    await playing(player, data)
    old = factory.stream
    head = old.pull(1000)
    switch = asyncio.create_task(player.reconfigure(None, 0.25))
    await settle()
    assert len(factory.streams) == 1  # busy: not opened twice
    assert not old.pull(int(0.15 * RATE) + 100).any()  # lets go, then plays out silence
    await asyncio.wait_for(switch, timeout=5)
    new = factory.stream
    assert old.closed and new is not old and new.active and new.spec.latency == 0.25
    rest = np.concatenate([new.pull(1000) for _ in range(2)])
    np.testing.assert_array_equal(np.concatenate([head, rest]), data)


async def test_a_callback_that_stopped_coming_does_not_hold_the_switch(setup: Any) -> None:
    player, factory, _ = setup
    data = steps(2000)
    await playing(player, data)
    old = factory.stream
    head = old.pull(500)
    # The old stream never calls back again; the switch aborts it after its latency + 1 s.
    await asyncio.wait_for(player.reconfigure("other"), timeout=5)
    assert old.calls[-2:] == ["abort", "close"]
    np.testing.assert_array_equal(np.concatenate([head, factory.stream.pull(1500)]), data)


async def test_closing_during_a_switch_ends_it(setup: Any) -> None:
    player, factory, _ = setup
    await playing(player, steps(2000))
    old = factory.stream
    old.pull(100)
    switch = asyncio.create_task(player.reconfigure("other"))
    await settle()
    await player.aclose()
    await asyncio.wait_for(switch, timeout=5)
    assert all(stream.closed for stream in factory.streams)


async def test_cancelling_the_caller_does_not_leave_a_switch_half_done(setup: Any) -> None:
    player, factory, _ = setup
    data = steps(3000)
    await playing(player, data)
    old = factory.stream
    head = old.pull(1000)
    caller = asyncio.create_task(player.reconfigure("other"))
    await settle()
    caller.cancel()  # e.g. the settings dialog's task, cancelled as the app quits
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert not old.pull(100).any()  # the switch itself goes on: the old one lets go…
    await settle()
    new = factory.stream
    assert new is not old and new.active  # …and the new one plays the rest
    rest = np.concatenate([new.pull(1000) for _ in range(2)])
    np.testing.assert_array_equal(np.concatenate([head, rest]), data)
