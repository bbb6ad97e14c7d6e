"""Streaming tempo change for speech that keeps the pitch: WSOLA (waveform-similarity overlap-add).

Why this exists: ElevenLabs only accepts speeds 0.7–1.2, while users ask for 0.5–2.5×, so the
rest of the tempo change is done here, on the provider's int16 PCM, as it streams. There is no
well-kept permissively licensed streaming library for it (Rubber Band is GPL, audiotsm has been
unmaintained since 2017), so this is a small WSOLA written from the algorithm.

Why WSOLA: it works in the time domain, so it has none of a phase vocoder's "phasiness" on a
single voice, and it is cheap (one FFT correlation per 12 ms of output).

How it works, in samples at ``sample_rate``:

- A window of ``N`` ≈ 25 ms (periodic Hann) is cut from the input and laid at the output every
  ``Hs = N/2`` samples. With a periodic Hann at 50 % overlap the windows sum to exactly 1, so a
  steady signal keeps its level and no output sample can exceed the input's peak.
- Cut ``k`` is taken around input ``k·Ha`` with ``Ha = Hs·speed`` and laid at output ``k·Hs``:
  frame centres map output time ``t`` to input time ``t·speed``.
- Each cut may move up to ``±D`` ≈ 10 ms from that ideal place, to where it best continues the
  previous cut: the candidate that correlates best (normalized cross-correlation) with the
  input that naturally followed the previous cut. Pitch periods then line up across the overlap,
  which is what keeps the pitch, and avoids the clicks and cancellations of plain overlap-add.
- The input is led in by half a window of silence so that the first real sample is already at
  full level (the first half-window of output, which would fade in, is dropped), and
  :meth:`TimeStretcher.flush` pads the end with silence and cuts the output to exactly
  ``round(input samples / speed)`` samples.

Streaming: every decision depends on sample values only, never on where chunks began or ended,
so the output bytes are the same however the input is chunked. A cut is made as soon as the
input covering its search range has arrived, so :meth:`TimeStretcher.process` holds back at most
``TimeStretcher.latency`` seconds of input (about 50–85 ms), and audio keeps flowing.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

MIN_SPEED = 0.25
MAX_SPEED = 4.0
MIN_SAMPLE_RATE = 1000
"""Below this the window would be a handful of samples; no provider streams that low."""

_WINDOW_SECONDS = 0.025
"""About two periods of a low voice: long enough to hold a period, short enough not to smear."""
_SEARCH_SECONDS = 0.010
"""How far a cut may move: covers a whole pitch period down to 100 Hz (half of one at 50 Hz)."""
_SEARCH_RATE = 22050
"""Higher rates are searched coarsely at about this rate first: speech has little up there."""
_ENERGY_FLOOR = 1.0
"""Per-sample energy floor (1 LSB RMS) so near-silent candidates do not win by division."""

Samples = npt.NDArray[np.float64]


class TimeStretcher:
    """Mono int16 PCM in → the same speech at ``speed`` times the tempo, same pitch, as it streams.

    One stretcher serves one stream at a time; after :meth:`flush` it starts afresh, so it can be
    reused for the next utterance.
    """

    def __init__(self, speed: float, sample_rate: int) -> None:
        if not MIN_SPEED <= speed <= MAX_SPEED:  # also rejects NaN
            raise ValueError(f"speed must be within {MIN_SPEED}..{MAX_SPEED}, not {speed}")
        if sample_rate < MIN_SAMPLE_RATE:
            raise ValueError(f"sample rate must be at least {MIN_SAMPLE_RATE}, not {sample_rate}")
        self.speed = float(speed)
        self.sample_rate = sample_rate
        self._passthrough = self.speed == 1.0
        self._hop = round(sample_rate * _WINDOW_SECONDS / 2)  # Hs
        self._size = 2 * self._hop  # N
        self._reach = round(sample_rate * _SEARCH_SECONDS)  # D
        self._analysis_hop = self._hop * self.speed  # Ha
        self._lead = self._hop + self._reach
        """Silence before the first real sample: half a window of lead-in, plus room to search."""
        n = np.arange(self._size, dtype=np.float64)
        self._window: Samples = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / self._size)
        self._region = self._size + 2 * self._reach
        self._step = max(1, round(sample_rate / _SEARCH_RATE))
        self._nfft = 1 << (self._region // self._step - 1).bit_length()
        self.latency = (
            0.0
            if self._passthrough
            else (self._size + self._reach + math.ceil(max(self._analysis_hop, self._hop)) + 1)
            / sample_rate
        )
        """The most input, in seconds, that :meth:`process` holds back for later."""
        self._reset()

    def _reset(self) -> None:
        self._odd_byte = b""
        # The buffer is a window on the padded input; positions below are absolute indices of it.
        self._buffer: Samples = np.zeros(self._lead, dtype=np.float64)
        self._base = 0
        self._received = 0
        self._frame = 0
        self._previous_start = 0
        self._tail: Samples = np.zeros(self._hop, dtype=np.float64)
        self._emitted = 0
        self._end: int | None = None
        """Where the real input ends (absolute index), once flush() knows it."""

    def process(self, pcm: bytes) -> bytes:
        """Take a chunk of any size (odd bytes and empty included); return the output now ready."""
        if self._passthrough:
            return pcm
        data = self._odd_byte + pcm
        cut = len(data) - (len(data) % 2)
        self._odd_byte = data[cut:]
        if cut:
            samples = np.frombuffer(data, dtype="<i2", count=cut // 2).astype(np.float64)
            self._buffer = np.concatenate((self._buffer, samples))
            self._received += len(samples)
        pieces = self._run(limit=None)
        self._forget_consumed()
        return _to_pcm(pieces)

    def flush(self) -> bytes:
        """Return the rest (a half-sample left over is dropped) and start afresh for reuse."""
        if self._passthrough:
            return b""  # process() handed every byte straight back
        target = math.floor(self._received / self.speed + 0.5)
        pieces: list[Samples] = []
        if target > self._emitted:
            # Silence after the end lets the last cuts be made; the output is cut to length.
            last = self._frame + math.ceil((target - self._emitted) / self._hop)
            missing = self._needed_until(last) - (self._base + len(self._buffer))
            if missing > 0:
                self._buffer = np.concatenate((self._buffer, np.zeros(missing)))
            self._end = self._lead + self._received
            pieces = self._run(limit=target)
        self._reset()
        return _to_pcm(pieces)

    def _needed_until(self, frame: int) -> int:
        """An absolute input index up to which the cuts through ``frame`` surely have samples."""
        search_end = self._ideal(frame) + self._reach + self._size
        # The previous cut moved at most D, so its continuation ends at most here.
        continuation_end = self._ideal(frame - 1) + 2 * self._reach + self._hop + self._size
        return max(search_end, continuation_end)

    def _ideal(self, frame: int) -> int:
        """Where cut ``frame`` would start with no search (absolute index; round half up)."""
        return self._reach + math.floor(frame * self._analysis_hop + 0.5)

    def _run(self, limit: int | None) -> list[Samples]:
        """Make every cut whose input has arrived; stop at ``limit`` output samples if given."""
        pieces: list[Samples] = []
        end = self._base + len(self._buffer)
        while limit is None or self._emitted < limit:
            frame = self._frame
            ideal = self._ideal(frame)
            if frame == 0:
                if ideal + self._size > end:
                    break
                start = ideal
            else:
                low = ideal - self._reach
                if self._end is not None:
                    # At the end, search among cuts that stay within the input where possible:
                    # cuts running into the padding would fade the last milliseconds out.
                    low = max(min(low, self._end - self._region), self._history_start())
                continuation = self._previous_start + self._hop
                if max(low + self._region, continuation + self._size) > end:
                    break
                start = low + self._best_offset(low, continuation)
            segment = self._buffer[start - self._base : start - self._base + self._size]
            windowed = segment * self._window
            out = self._tail + windowed[: self._hop]
            self._tail = windowed[self._hop :]
            self._previous_start = start
            self._frame += 1
            if frame == 0:
                continue  # the lead-in half-window, silence fading into the first samples
            if limit is not None and self._emitted + self._hop > limit:
                out = out[: limit - self._emitted]
            pieces.append(out)
            self._emitted += len(out)
        return pieces

    def _best_offset(self, low: int, continuation: int) -> int:
        """Offset in ``0..2D`` of the candidate cut most like the previous cut's continuation."""
        size, base, step = self._size, self._base, self._step
        region = self._buffer[low - base : low - base + self._region]
        template = self._buffer[continuation - base : continuation - base + size]
        if step == 1:
            best = _most_similar(region, template, self._nfft)
            return self._reach if best is None else best
        # Coarse first, on sums of `step` samples (a low-passed, decimated copy), then the few
        # full-rate lags around the coarse winner: half the work at 44.1 and 48 kHz.
        coarse = _most_similar(_decimate(region, step), _decimate(template, step), self._nfft)
        if coarse is None:
            return self._reach
        best, best_score = self._reach, 0.0
        floor = _floor(size)
        for lag in range(
            max(0, (coarse - 1) * step + 1), min(2 * self._reach, (coarse + 1) * step - 1) + 1
        ):
            candidate = region[lag : lag + size]
            score = float(np.dot(candidate, template)) / math.sqrt(
                max(float(np.dot(candidate, candidate)), floor)
            )
            if score > best_score:
                best, best_score = lag, score
        return best

    def _history_start(self) -> int:
        """The first absolute input index the next cut may use; it never decreases.

        That is the earliest index its search or the previous cut's continuation covers, less one
        search region kept so that the final cuts can step back inside the input.
        """
        earliest = min(self._ideal(self._frame) - self._reach, self._previous_start + self._hop)
        return max(0, earliest - self._region)

    def _forget_consumed(self) -> None:
        """Drop input no future cut can reach (a view: the next append copies anyway)."""
        keep = self._history_start()
        if keep > self._base:
            self._buffer = self._buffer[keep - self._base :]
            self._base = keep


def _most_similar(region: Samples, template: Samples, nfft: int) -> int | None:
    """The lag at which ``template`` best matches ``region`` (normalized cross-correlation).

    ``None`` when nothing correlates positively (silence, say): then no lag is better than the
    ideal one. The correlation is one FFT product; the candidates' energies come from a running
    sum, which is sequential, so the result cannot depend on how the input was chunked.
    """
    size = len(template)
    lags = len(region) - size + 1
    spectrum = np.fft.rfft(region, nfft) * np.conj(np.fft.rfft(template, nfft))
    correlation = np.fft.irfft(spectrum, nfft)[:lags]
    running = np.cumsum(region * region)
    energy = running[size - 1 :].copy()
    energy[1:] -= running[: lags - 1]
    score = correlation / np.sqrt(np.maximum(energy, _floor(size)))
    best = int(np.argmax(score))
    return best if score[best] > 0.0 else None


def _floor(size: int) -> float:
    """The least energy a candidate of ``size`` samples counts as having (1 LSB RMS)."""
    return _ENERGY_FLOOR * size


def _decimate(samples: Samples, step: int) -> Samples:
    """Sums of ``step`` consecutive samples: crude low-pass and decimation, enough to align by."""
    count = len(samples) // step
    out: Samples = samples[0 : count * step : step].copy()
    for phase in range(1, step):
        out += samples[phase : count * step : step]
    return out


def _to_pcm(pieces: list[Samples]) -> bytes:
    """Float samples to int16 little-endian bytes, saturating rather than wrapping."""
    if not pieces:
        return b""
    joined = np.concatenate(pieces)
    np.rint(joined, out=joined)
    np.clip(joined, -32768.0, 32767.0, out=joined)
    return joined.astype("<i2").tobytes()


def stretch(pcm: bytes, speed: float, sample_rate: int) -> bytes:
    """Stretch a whole buffer at once; the same bytes the streaming path gives for it."""
    stretcher = TimeStretcher(speed, sample_rate)
    return stretcher.process(pcm) + stretcher.flush()
