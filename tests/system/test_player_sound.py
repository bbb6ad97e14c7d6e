"""The player through a real PortAudio stream into the PulseAudio null sink, recorded back.

Times are related through ``time.monotonic()``: the recorder knows when its sample 0 was
rendered, the player's futures say when a sample left the callback, and the device plays it
``latency`` later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from voxtray.core.audio.player import Player
from voxtray.core.model import AudioChunk

from tests.harness.pulse import RATE, SECOND_SINK, PulseServer, Recording, second_device
from tests.harness.signal import (
    db,
    dominant_frequency,
    first_sound,
    gaps,
    last_sound,
    sound_spans,
    tone,
)

pytestmark = pytest.mark.sound

SRC_RATE = 22050  # Piper's rate: every test resamples, like the product does
TIMING_SLACK = 0.04  # recorder block (10 ms) + callback period + scheduling on a busy box


def pcm(freq: float, seconds: float, rate: int = SRC_RATE, amplitude: float = 0.5) -> bytes:
    return (tone(freq, seconds, rate, amplitude) * 32767).astype("<i2").tobytes()


def chunks(freq: float, seconds: float, size: float, rate: int = SRC_RATE) -> list[AudioChunk]:
    data = pcm(freq, seconds, rate)
    step = int(size * rate) * 2
    return [AudioChunk(data[i : i + step], rate) for i in range(0, len(data), step)]


def sound_only(rec: Recording) -> np.ndarray:
    start = first_sound(rec.samples, rec.rate, db(-40))
    end = last_sound(rec.samples, rec.rate, db(-40))
    assert start is not None and end is not None, "nothing was heard"
    return rec.samples[int(start * rec.rate) : int(end * rec.rate)]


@pytest.fixture
async def player(pulse: PulseServer) -> AsyncIterator[Player]:
    p = Player()
    await p.open()
    try:
        yield p
    finally:
        await p.aclose()


async def test_tone_comes_out_at_pitch_for_its_duration(pulse: PulseServer, player: Player) -> None:
    with pulse.recorder() as rec:
        utt = player.start_utterance()
        await utt.write(AudioChunk(pcm(440, 1.0), SRC_RATE))
        written = time.monotonic()
        utt.end()
        finished = await utt.finished
        heard = await utt.first_sound
        await asyncio.sleep(player.counters().latency + 0.2)  # let the device play out
    result = rec.result
    spans = sound_spans(result.samples, result.rate)
    assert len(spans) == 1, spans
    assert spans[0].duration == pytest.approx(1.0, rel=0.05)
    assert dominant_frequency(sound_only(result), result.rate) == pytest.approx(440, rel=0.01)

    # finished is when the last sample left the callback: long after the write returned,
    # and the device played it `latency` later, as the recording shows.
    latency = player.counters().latency
    assert finished - written > 0.8
    end_heard = result.start + spans[0].end
    start_heard = result.start + spans[0].start
    print(f"\nend heard − (finished + latency) = {1000 * (end_heard - finished - latency):+.1f} ms")
    print(
        f"start heard − (first_sound + latency) = {1000 * (start_heard - heard - latency):+.1f} ms"
    )
    assert end_heard == pytest.approx(finished + latency, abs=TIMING_SLACK)
    assert start_heard == pytest.approx(heard + latency, abs=TIMING_SLACK)
    assert player.counters().underruns == 0


async def test_two_utterances_play_whole_and_in_order(pulse: PulseServer, player: Player) -> None:
    with pulse.recorder() as rec:
        for freq in (440.0, 660.0):
            utt = player.start_utterance()
            await utt.write(AudioChunk(pcm(freq, 0.6), SRC_RATE))
            utt.end()
            await utt.finished
        await asyncio.sleep(player.counters().latency + 0.2)
    result = rec.result
    spans = sound_spans(result.samples, result.rate)
    # Either back to back (one span) or with a short gap between the two, never inside one.
    assert len(spans) in (1, 2), spans
    if len(spans) == 2:
        assert [s.duration for s in spans] == pytest.approx([0.6, 0.6], rel=0.05)
    else:
        assert spans[0].duration == pytest.approx(1.2, rel=0.05)
    sound = sound_only(result)
    half = int(0.5 * result.rate)
    assert dominant_frequency(sound[:half], result.rate) == pytest.approx(440, rel=0.01)
    assert dominant_frequency(sound[-half:], result.rate) == pytest.approx(660, rel=0.01)
    assert player.counters().underruns == 0


async def test_small_chunks_with_backpressure_play_gap_free(pulse: PulseServer) -> None:
    player = Player(buffer_seconds=0.5)  # a small ring, so the writer really waits
    await player.open()
    try:
        with pulse.recorder() as rec:
            utt = player.start_utterance()
            began = time.monotonic()
            for chunk in chunks(330, 3.0, 0.02, rate=24000):
                await utt.write(chunk)
            writing = time.monotonic() - began
            utt.end()
            await utt.finished
            await asyncio.sleep(player.counters().latency + 0.2)
    finally:
        await player.aclose()
    result = rec.result
    spans = sound_spans(result.samples, result.rate)
    assert len(spans) == 1, gaps(spans)
    assert spans[0].duration == pytest.approx(3.0, rel=0.05)
    assert dominant_frequency(sound_only(result), result.rate) == pytest.approx(330, rel=0.01)
    # The ring holds 0.5 s: writing 3 s must have waited for playback most of the way.
    assert writing > 2.0
    assert player.counters().underruns == 0


async def test_discard_is_silent_within_50_ms(pulse: PulseServer, player: Player) -> None:
    with pulse.recorder() as rec:
        utt = player.start_utterance()
        await utt.write(AudioChunk(pcm(440, 3.0), SRC_RATE))
        mark = utt.mark()
        await utt.first_sound
        await asyncio.sleep(0.8)  # it plays, and the device buffer is full
        stopped = time.monotonic()
        utt.discard()
        await utt.write(AudioChunk(pcm(440, 1.0), SRC_RATE))  # a no-op now, no error
        await asyncio.sleep(0.6)  # record the silence that follows
    result = rec.result
    last = last_sound(result.samples, result.rate, db(-50))
    assert last is not None
    stop_to_silence = result.start + last - stopped
    print(f"\nstop → silence: {1000 * stop_to_silence:.1f} ms")
    assert stop_to_silence < 0.05
    assert utt.finished.cancelled() and mark.cancelled()
    # and the player still plays afterwards, on the same stream
    with pulse.recorder() as rec:
        again = player.start_utterance()
        await again.write(AudioChunk(pcm(550, 0.3), SRC_RATE))
        again.end()
        await again.finished
        await asyncio.sleep(player.counters().latency + 0.1)
    assert dominant_frequency(sound_only(rec.result), rec.result.rate) == pytest.approx(
        550, rel=0.01
    )


async def test_pause_and_resume_lose_nothing(pulse: PulseServer, player: Player) -> None:
    with pulse.recorder() as rec:
        utt = player.start_utterance()
        await utt.write(AudioChunk(pcm(440, 1.5), SRC_RATE))
        utt.end()
        await utt.first_sound
        await asyncio.sleep(0.5)
        player.pause()
        assert player.paused
        await asyncio.sleep(0.8)  # paused: the recording must show this silence
        player.resume()
        await utt.finished
        await asyncio.sleep(player.counters().latency + 0.2)
    result = rec.result
    spans = sound_spans(result.samples, result.rate)
    assert len(spans) == 2, spans
    assert gaps(spans)[0].duration == pytest.approx(0.8, abs=0.06)
    assert sum(s.duration for s in spans) == pytest.approx(1.5, rel=0.05)
    assert player.counters().underruns == 0


async def test_underruns_count_stalls_mid_utterance_only(
    pulse: PulseServer, player: Player
) -> None:
    before = player.counters()
    with pulse.recorder() as rec:
        utt = player.start_utterance()
        await utt.write(AudioChunk(pcm(440, 0.3), SRC_RATE))
        await asyncio.sleep(0.8)  # the producer stalls: ~0.5 s dry mid-utterance
        await utt.write(AudioChunk(pcm(440, 0.3), SRC_RATE))
        utt.end()
        await utt.finished
        mid = player.counters()
        await asyncio.sleep(0.5)  # silence between utterances: not an underrun
        nxt = player.start_utterance()
        await nxt.write(AudioChunk(pcm(440, 0.3), SRC_RATE))
        nxt.end()
        await nxt.finished
        await asyncio.sleep(player.counters().latency + 0.1)
    after = player.counters()
    print(f"\ngap counted: {mid.gap_seconds - before.gap_seconds:.3f} s")
    assert mid.underruns - before.underruns == 1
    assert mid.gap_seconds - before.gap_seconds == pytest.approx(0.5, abs=0.1)
    assert after.underruns == mid.underruns
    assert after.gap_seconds == mid.gap_seconds
    spans = sound_spans(rec.result.samples, rec.result.rate)
    assert len(spans) == 3, spans


# -- switching the device while speaking --------------------------------------------------------


@pytest.fixture
def second(pulse: PulseServer) -> Iterator[str]:
    with second_device(pulse) as device:
        yield device


async def test_a_device_switch_while_speaking_moves_the_rest_there_whole(
    pulse: PulseServer, second: str
) -> None:
    player = Player(latency=0.1)
    await player.open()
    try:
        with pulse.recorder() as before_rec, pulse.recorder(f"{SECOND_SINK}.monitor") as after_rec:
            utt = player.start_utterance()
            await utt.write(AudioChunk(pcm(440, 1.0), SRC_RATE))
            one_second = utt.mark()
            await utt.write(AudioChunk(pcm(440, 2.0), SRC_RATE))
            utt.end()
            await one_second
            await player.reconfigure(second, 0.1)
            assert player.counters().device == second
            await utt.finished
            await asyncio.sleep(player.counters().latency + 0.2)  # the device plays it out
    finally:
        await player.aclose()
    before, after = before_rec.result, after_rec.result
    before_spans = sound_spans(before.samples, before.rate)
    after_spans = sound_spans(after.samples, after.rate)
    assert len(before_spans) == 1 and len(after_spans) == 1, (before_spans, after_spans)
    head, tail = before_spans[0], after_spans[0]
    gap = after.time_of(tail.start * RATE) - before.time_of(head.end * RATE)
    print(
        f"\nbefore the switch {head.duration:.3f} s, after {tail.duration:.3f} s, gap {gap:.3f} s"
    )
    assert 1.0 <= head.duration < 1.15  # what played before, and what the old device held
    assert head.duration + tail.duration == pytest.approx(3.0, abs=0.03)  # none lost or twice
    assert abs(gap) < 0.25  # the new device starts as the old one plays out what it held
    assert dominant_frequency(sound_only(after), after.rate) == pytest.approx(440, rel=0.01)
    assert player.counters().underruns == 0
