"""Streaming conversion of provider PCM (int16, any rate) to float32 at the output's rate.

One :class:`StreamResampler` lives for one utterance: soxr keeps filter state across chunks, so
chunk boundaries leave no clicks, and :meth:`StreamResampler.flush` returns the tail the filter
still holds (forgetting it would clip the last few milliseconds of every utterance). Making a
new resampler per chunk would do both wrong, which is why the output owns this, not the caller.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

Frames = npt.NDArray[np.float32]

_EMPTY: Frames = np.zeros(0, dtype=np.float32)
_INT16_SCALE = 1.0 / 32768.0


def pcm16_to_float(pcm: bytes) -> Frames:
    """Signed 16-bit little-endian mono PCM to float32 in -1..1."""
    usable = len(pcm) - (len(pcm) % 2)
    samples = np.frombuffer(pcm, dtype="<i2", count=usable // 2)
    out: Frames = samples.astype(np.float32)
    out *= _INT16_SCALE
    return out


class StreamResampler:
    """int16 PCM in at ``in_rate`` → float32 out at ``out_rate``, across many chunks."""

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, not {in_rate} → {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream: soxr.ResampleStream | None = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)
        )
        self._flushed = False
        self._odd_byte = b""

    def process(self, pcm: bytes) -> Frames:
        """Resample one chunk; may return fewer (or zero) frames while the filter fills."""
        if self._flushed:
            raise RuntimeError("this resampler was flushed; make a new one per utterance")
        # A chunk may split a sample in two (network chunks do): carry the odd byte over.
        data = self._odd_byte + pcm
        cut = len(data) - (len(data) % 2)
        self._odd_byte = data[cut:]
        samples = pcm16_to_float(data[:cut])
        if self._stream is None:
            return samples
        out: Frames = self._stream.resample_chunk(samples, last=False)
        return out

    def flush(self) -> Frames:
        """The remaining tail; call once, when the utterance ends."""
        if self._flushed:
            return _EMPTY
        self._flushed = True
        if self._stream is None:
            return _EMPTY
        out: Frames = self._stream.resample_chunk(_EMPTY, last=True)
        return out
