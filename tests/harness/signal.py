"""Analysis of recorded audio: loudness, where the sound is, and its pitch.

Thresholds are amplitudes in 0..1 (full scale); :func:`db` converts from dBFS. Spans and gaps
are measured on short RMS windows, not single samples, so that a sine's zero crossings are not
mistaken for gaps.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


def db(dbfs: float) -> float:
    """Amplitude of a level in dBFS (``db(-40) == 0.01``)."""
    return float(10 ** (dbfs / 20))


def rms(x: Samples) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> Samples:
    """A sine, for feeding the player."""
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def window_rms(x: Samples, rate: int, window: float = 0.005) -> Samples:
    """RMS of consecutive windows of ``window`` seconds (the last partial window dropped)."""
    size = max(1, int(rate * window))
    n = len(x) // size
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    frames = x[: n * size].astype(np.float64).reshape(n, size)
    levels: Samples = np.sqrt(np.mean(frames * frames, axis=1)).astype(np.float32)
    return levels


@dataclass(frozen=True)
class Span:
    """A stretch of sound (or of silence) in seconds from the start of the recording."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def sound_spans(
    x: Samples,
    rate: int,
    threshold: float = db(-40),
    window: float = 0.005,
    min_gap: float = 0.0,
) -> list[Span]:
    """Stretches where the windowed RMS exceeds ``threshold``.

    Gaps shorter than ``min_gap`` seconds are bridged (0: report every gap of a window or more).
    """
    levels = window_rms(x, rate, window)
    loud = levels > threshold
    spans: list[Span] = []
    i, n = 0, len(loud)
    while i < n:
        if not loud[i]:
            i += 1
            continue
        j = i
        while j < n and loud[j]:
            j += 1
        spans.append(Span(i * window, j * window))
        i = j
    merged: list[Span] = []
    for span in spans:
        if merged and span.start - merged[-1].end < min_gap:
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def gaps(spans: list[Span]) -> list[Span]:
    """The silences between consecutive spans."""
    return [Span(a.end, b.start) for a, b in itertools.pairwise(spans)]


def first_sound(x: Samples, rate: int, threshold: float = db(-60)) -> float | None:
    """Seconds to the first sample above ``threshold`` (single samples: exact onset)."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    return float(idx[0] / rate) if idx.size else None


def last_sound(x: Samples, rate: int, threshold: float = db(-60)) -> float | None:
    """Seconds to just after the last sample above ``threshold``."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    return float((idx[-1] + 1) / rate) if idx.size else None


def dominant_frequency(x: Samples, rate: int) -> float:
    """Frequency of the strongest FFT bin (Hann window, parabolic interpolation)."""
    if len(x) < 16:
        raise ValueError("too few samples for a frequency estimate")
    windowed = x.astype(np.float64) * np.hanning(len(x))
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denom = a - 2 * b + c
        k_frac = k + (0.5 * (a - c) / denom if denom else 0.0)
    else:
        k_frac = float(k)
    return float(k_frac * rate / len(x))
