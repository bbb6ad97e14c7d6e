"""A single-producer/single-consumer ring buffer of float32 mono frames.

Thread contract (after PortAudio's ``pa_ringbuffer``):

* Exactly one **producer** (the asyncio event loop) calls :meth:`RingBuffer.write` and
  :meth:`RingBuffer.request_flush`. Only it assigns ``_written`` and ``_flush_to``.
* Exactly one **consumer** (the PortAudio callback thread) calls :meth:`RingBuffer.read_into`.
  Only it assigns ``_read``.
* No lock is taken anywhere. Each side assigns its own Python ``int`` in one bytecode
  operation, which the GIL makes atomic; the other side may see an older value, which only ever
  under-reports what is available (the producer sees too little space, the consumer too little
  data), never more. The producer copies the samples in *before* it publishes the new
  ``_written``; the consumer copies them out *before* it publishes the new ``_read``.
* Positions are absolute frame counts since the buffer was made (Python ints never wrap), so
  a position taken on one side can be compared with a position seen on the other — this is
  what marks, "first sound" and "finished" are built on. The slot of a position is
  ``position & (capacity - 1)``; the capacity is a power of two for that reason.
* Flushing belongs to the consumer: the producer *requests* "drop everything before absolute
  position P" and the consumer applies it on its next read. This way the read index keeps a
  single writer.

Nothing here allocates arrays of audio size after construction.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Frames = npt.NDArray[np.float32]


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


class RingBuffer:
    """Bounded FIFO of float32 frames between the event loop and the audio callback."""

    def __init__(self, min_capacity: int) -> None:
        """Hold at least ``min_capacity`` frames (rounded up to a power of two)."""
        if min_capacity < 1:
            raise ValueError("a ring buffer holds at least one frame")
        self.capacity = _next_power_of_two(min_capacity)
        self._mask = self.capacity - 1
        self._data: Frames = np.zeros(self.capacity, dtype=np.float32)
        self._written = 0  # producer-owned
        self._read = 0  # consumer-owned
        self._flush_to = 0  # producer-owned request, applied by the consumer

    # -- positions ---------------------------------------------------------------------------

    @property
    def frames_written(self) -> int:
        """Absolute count of frames ever written (the producer's position)."""
        return self._written

    @property
    def frames_read(self) -> int:
        """Absolute count of frames consumed or flushed (the consumer's position)."""
        return self._read

    @property
    def read_available(self) -> int:
        """Frames the consumer could read now (a pending flush is not yet applied)."""
        return self._written - self._read

    @property
    def write_available(self) -> int:
        """Frames the producer can write now without overwriting unread data."""
        return self.capacity - (self._written - self._read)

    # -- producer side -----------------------------------------------------------------------

    def write(self, frames: Frames) -> int:
        """Copy as many of ``frames`` as fit; return how many were written (may be 0)."""
        n = min(len(frames), self.write_available)
        if n <= 0:
            return 0
        start = self._written & self._mask
        first = min(n, self.capacity - start)
        self._data[start : start + first] = frames[:first]
        if n > first:
            self._data[: n - first] = frames[first:n]
        self._written += n  # publish after the copy
        return n

    def request_flush(self, position: int | None = None) -> None:
        """Ask the consumer to drop every frame before ``position`` (default: all written).

        Takes effect at the consumer's next :meth:`read_into`. Positions at or before the
        current read position are no-ops, so a late request cannot rewind anything.
        """
        target = self._written if position is None else min(position, self._written)
        if target > self._flush_to:
            self._flush_to = target

    # -- consumer side -----------------------------------------------------------------------

    def apply_flush(self) -> None:
        """Consumer: apply a pending flush request now (also done by :meth:`read_into`)."""
        if self._flush_to > self._read:
            self._read = self._flush_to

    def read_into(self, out: Frames) -> int:
        """Copy up to ``len(out)`` frames into ``out[:n]``; return ``n``. The rest is untouched."""
        self.apply_flush()
        n = min(len(out), self._written - self._read)
        if n <= 0:
            return 0
        start = self._read & self._mask
        first = min(n, self.capacity - start)
        out[:first] = self._data[start : start + first]
        if n > first:
            out[first:n] = self._data[: n - first]
        self._read += n  # publish after the copy
        return n
