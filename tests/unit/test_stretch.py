"""The WSOLA time stretcher on synthetic signals: length, chunking, pitch, clicks, level, limits."""

from __future__ import annotations

import math
import random

import numpy as np
import numpy.typing as npt
import pytest
from voxtray.core.audio.stretch import TimeStretcher, stretch

Ints = npt.NDArray[np.int16]


def pcm(samples: npt.ArrayLike) -> bytes:
    return np.asarray(samples).astype("<i2").tobytes()


def ints(data: bytes) -> Ints:
    return np.frombuffer(data, dtype="<i2")


def sine(freq: float, seconds: float, rate: int, amplitude: float = 12000.0) -> Ints:
    t = np.arange(round(seconds * rate)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def voiced(seconds: float, rate: int, f0: float = 130.0) -> Ints:
    """A vowel-like tone: a fundamental with falling harmonics, plus a little breath noise."""
    t = np.arange(round(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * f0 * h * t + h) / h for h in range(1, 8))
    noise = np.random.default_rng(7).standard_normal(len(t)) * 0.02
    return np.rint(6000.0 * (wave + noise)).astype(np.int16)


def in_chunks(stretcher: TimeStretcher, data: bytes, seed: int, largest: int) -> bytes:
    chunks = random.Random(seed)
    out, at = [], 0
    while at < len(data):
        size = chunks.randint(0, largest)  # zero-length and odd sizes included
        out.append(stretcher.process(data[at : at + size]))
        at += size
    out.append(stretcher.flush())
    return b"".join(out)


def peak_frequency(samples: Ints, rate: int) -> float:
    """The strongest frequency, refined between FFT bins by a parabola through the peak's logs."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), 8 * len(samples)))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + shift) * rate / (8 * len(samples))


def rms(samples: Ints) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


@pytest.mark.parametrize("speed", [0.2, 4.01, 0.0, -1.0, math.nan, math.inf])
def test_speed_outside_the_range_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        TimeStretcher(speed, 22050)


def test_sample_rate_must_be_usable() -> None:
    with pytest.raises(ValueError, match="sample rate"):
        TimeStretcher(1.5, 0)


@pytest.mark.parametrize("speed", [0.25, 4.0])
def test_range_ends_are_accepted(speed: float) -> None:
    data = pcm(voiced(0.5, 16000))
    assert len(stretch(data, speed, 16000)) // 2 == round(8000 / speed)


def test_normal_speed_is_an_exact_passthrough_without_latency() -> None:
    stretcher = TimeStretcher(1.0, 22050)
    data = pcm(voiced(0.3, 22050))
    for chunk in (data[:1], data[1:1001], b"", data[1001:]):
        assert stretcher.process(chunk) == chunk
    assert stretcher.flush() == b""
    assert stretch(data, 1.0, 22050) == data


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
@pytest.mark.parametrize("speed", [0.25, 0.5, 0.6, 0.85, 1.2, 1.5, 2.0, 2.5, 4.0])
@pytest.mark.parametrize("seconds", [0.5, 1.37])
def test_output_length_is_input_over_speed(rate: int, speed: float, seconds: float) -> None:
    data = pcm(voiced(seconds, rate))
    expected = len(data) / 2 / speed
    assert abs(len(stretch(data, speed, rate)) / 2 - expected) <= 1  # tighter than 1 %


@pytest.mark.parametrize("rate", [22050, 44100])  # 44.1 kHz also refines a coarse search
@pytest.mark.parametrize("speed", [0.5, 0.7, 1.3, 2.5, 4.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_chunking_does_not_change_a_single_byte(rate: int, speed: float, seed: int) -> None:
    data = pcm(voiced(1.1, rate))
    whole = stretch(data, speed, rate)
    assert in_chunks(TimeStretcher(speed, rate), data, seed, largest=3001) == whole
    assert in_chunks(TimeStretcher(speed, rate), data, seed, largest=7) == whole


@pytest.mark.parametrize("speed", [0.5, 1.0, 2.5, 4.0])
def test_process_holds_back_only_a_bounded_latency(speed: float) -> None:
    rate = 22050
    stretcher = TimeStretcher(speed, rate)
    assert stretcher.latency <= 0.1
    data = pcm(voiced(2.0, rate))
    fed = out = 0
    for at in range(0, len(data), 441):  # 10 ms chunks
        chunk = data[at : at + 441]  # odd byte counts: a sample is split between chunks
        out += len(stretcher.process(chunk)) // 2
        fed += len(chunk) // 2
        assert fed - out * speed <= stretcher.latency * rate
        assert out <= fed / speed  # never runs ahead of the input either


def test_flush_makes_the_stretcher_new_again() -> None:
    stretcher = TimeStretcher(1.7, 22050)
    first, second = pcm(voiced(0.6, 22050, f0=110)), pcm(sine(300, 0.8, 22050))
    assert stretcher.process(first) + stretcher.flush() == stretch(first, 1.7, 22050)
    assert stretcher.process(second) + stretcher.flush() == stretch(second, 1.7, 22050)


def test_empty_and_tiny_inputs() -> None:
    stretcher = TimeStretcher(0.5, 22050)
    assert stretcher.process(b"") == b""
    assert stretcher.flush() == b""
    assert stretch(b"\x10", 0.5, 22050) == b""  # half a sample is dropped
    assert len(stretch(pcm([1000, 2000, 3000]), 0.5, 22050)) == 12
    assert len(stretch(pcm([1000, 2000, 3000]), 2.0, 22050)) == 4


@pytest.mark.parametrize("rate", [22050, 44100])
@pytest.mark.parametrize("speed", [0.5, 1.5, 2.5])
def test_pitch_is_kept(rate: int, speed: float) -> None:
    out = ints(stretch(pcm(sine(220, 2.0, rate)), speed, rate))
    assert peak_frequency(out, rate) == pytest.approx(220, rel=0.01)


def test_pitch_measure_would_notice_resampling() -> None:
    # The check above must be able to fail: naive resampling (the chipmunk) shifts the peak.
    tone = sine(220, 2.0, 22050)
    sped_up = np.interp(np.arange(0, len(tone), 1.5), np.arange(len(tone)), tone).astype(np.int16)
    assert peak_frequency(sped_up, 22050) == pytest.approx(330, rel=0.01)


@pytest.mark.parametrize("rate", [22050, 44100])
@pytest.mark.parametrize("speed", [0.5, 0.6, 1.5, 2.0, 2.5])
@pytest.mark.parametrize("signal", ["sine", "voiced"])
def test_no_clicks(rate: int, speed: float, signal: str) -> None:
    source = sine(220, 1.5, rate) if signal == "sine" else voiced(1.5, rate)
    out = ints(stretch(pcm(source), speed, rate)).astype(np.int32)
    biggest_input_jump = np.abs(np.diff(source.astype(np.int32))).max()
    assert np.abs(np.diff(out)).max() <= 1.25 * biggest_input_jump


@pytest.mark.parametrize("speed", [0.5, 2.5])
def test_level_is_kept(speed: float) -> None:
    source = voiced(2.0, 22050)
    out = ints(stretch(pcm(source), speed, 22050))
    assert rms(out) == pytest.approx(rms(source), rel=0.05)
    # The start is at full level at once (no fade-in), and so is the end.
    assert rms(out[:200]) == pytest.approx(rms(source[:200]), rel=0.25)
    assert rms(out[-200:]) > 0.5 * rms(source[-400:])


@pytest.mark.parametrize("value", [32767, -32768])
def test_full_scale_saturates_instead_of_wrapping(value: int) -> None:
    out = ints(stretch(pcm(np.full(11025, value)), 0.6, 22050))
    assert np.count_nonzero(out == value) > 0.9 * len(out)
    assert np.all(np.sign(out.astype(np.int32)) == np.sign(value))  # no wrap-around
