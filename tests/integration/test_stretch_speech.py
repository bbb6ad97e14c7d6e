"""The time stretcher on real speech from the embedded Piper voice: length, energy, pitch."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest
from voxtray.core.audio.stretch import TimeStretcher, stretch
from voxtray.core.model import RequestId, Segment, SynthesisJob, VoiceRef
from voxtray.core.providers.piper import PiperProvider

pytestmark = pytest.mark.piper

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it rests a while."
ENVELOPE_SECONDS = 0.02
PITCH_HOP_SECONDS = 0.005

Floats = npt.NDArray[np.float64]


async def synthesize(text: str) -> tuple[bytes, int]:
    provider = PiperProvider()
    try:
        synthesis = SynthesisJob(RequestId(1), Segment(0, text, 0, len(text)), VoiceRef("piper"))
        chunks = [chunk async for chunk in provider.synthesize(synthesis)]
    finally:
        await provider.aclose()
    (rate,) = {chunk.sample_rate for chunk in chunks}
    return b"".join(chunk.pcm for chunk in chunks), rate


@pytest.fixture(scope="module")
def speech() -> tuple[bytes, int]:
    # Once for the module: Piper samples its noise, so each synthesis differs a little anyway.
    return asyncio.run(synthesize(SENTENCE))


def floats(pcm: bytes) -> Floats:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def envelope(samples: Floats, frame: int) -> Floats:
    """RMS of consecutive frames of ``frame`` samples."""
    count = len(samples) // frame
    return np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))


def pitch_track(samples: Floats, rate: int) -> tuple[Floats, Floats]:
    """Every 5 ms: the autocorrelation pitch (NaN in quiet parts) and how periodic it is (0..1)."""
    size, hop = round(0.03 * rate), round(PITCH_HOP_SECONDS * rate)
    shortest, longest = rate // 350, rate // 60
    pitches, clarity = [], []
    for start in range(0, len(samples) - size - longest, hop):
        base = samples[start : start + size]
        if np.sqrt(np.mean(base**2)) < 800:
            pitches.append(np.nan)
            clarity.append(0.0)
            continue
        lagged = np.lib.stride_tricks.sliding_window_view(samples[start + shortest :], size)
        lagged = lagged[: longest - shortest]
        scores = lagged @ base / np.sqrt(np.sum(lagged**2, axis=1) * (base @ base))
        best = int(np.argmax(scores))
        pitches.append(rate / (shortest + best))
        clarity.append(float(scores[best]))
    return np.array(pitches), np.array(clarity)


@pytest.mark.parametrize("speed", [0.6, 2.0])
def test_speech_duration_follows_the_speed(speech: tuple[bytes, int], speed: float) -> None:
    pcm, rate = speech
    assert len(pcm) / 2 / rate > 2.0  # a real sentence, not a stub
    out = stretch(pcm, speed, rate)
    assert len(out) / len(pcm) == pytest.approx(1 / speed, rel=0.01)


@pytest.mark.parametrize("speed", [0.6, 2.0])
def test_speech_energy_and_its_envelope_are_kept(speech: tuple[bytes, int], speed: float) -> None:
    pcm, rate = speech
    source, out = floats(pcm), floats(stretch(pcm, speed, rate))
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(source**2)), rel=0.2)
    # Output frames of 20 ms against the input frames they came from (20 ms times the speed).
    frame = round(ENVELOPE_SECONDS * rate)
    heard, said = envelope(out, frame), envelope(source, round(frame * speed))
    count = min(len(heard), len(said))
    assert np.corrcoef(heard[:count], said[:count])[0, 1] > 0.9
    loud = said[:count] > np.median(said)
    assert np.median(heard[:count][loud] / said[:count][loud]) == pytest.approx(1.0, rel=0.2)


@pytest.mark.parametrize("speed", [0.6, 2.0])
def test_speech_pitch_is_kept(speech: tuple[bytes, int], speed: float) -> None:
    pcm, rate = speech
    said, said_clarity = pitch_track(floats(pcm), rate)
    heard, heard_clarity = pitch_track(floats(stretch(pcm, speed, rate)), rate)
    # Each clearly voiced output frame against the input frame at the same point of the text.
    source_index = np.rint(np.arange(len(heard)) * speed).astype(int)
    inside = source_index < len(said)
    source_index = source_index[inside]
    voiced = (heard_clarity[inside] > 0.8) & (said_clarity[source_index] > 0.8)
    assert np.count_nonzero(voiced) >= 10
    ratios = heard[inside][voiced] / said[source_index][voiced]
    assert np.median(ratios) == pytest.approx(1.0, abs=0.03)


def test_streamed_speech_matches_the_whole_buffer(speech: tuple[bytes, int]) -> None:
    pcm, rate = speech
    stretcher = TimeStretcher(1.6, rate)
    pieces = [stretcher.process(pcm[at : at + 4097]) for at in range(0, len(pcm), 4097)]
    assert b"".join(pieces) + stretcher.flush() == stretch(pcm, 1.6, rate)
