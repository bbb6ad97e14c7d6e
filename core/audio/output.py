"""What the single worker writes audio through: the sound card player or a file/null sink.

The worker plays one utterance (one request) at a time. It asks the output for an
:class:`UtteranceOutput`, writes the request's chunks into it in order, marks segment
boundaries for progress events, and either ends it (then awaits ``finished``) or discards it.
Everything is timed with ``time.monotonic()``; durations are float seconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..model import AudioChunk

SILENCE_THRESHOLD = 10 ** (-60 / 20)
"""Samples with ``|x|`` at or below -60 dBFS count as silence for "first sound"."""

MAX_VOLUME = 1.5


@dataclass(frozen=True, slots=True)
class OutputCounters:
    """A snapshot of an output's health, for the stats window and benchmarks."""

    underruns: int
    """Dry spells: the ring ran empty while an utterance was mid-flight."""
    gap_seconds: float
    """Total silence those dry spells put into the middle of utterances."""
    frames_played: int
    """Frames handed to the device (or written, for sinks), silence between utterances excluded."""
    device: str
    sample_rate: int
    latency: float
    """The output latency the device reported, in seconds (0 for sinks)."""
    xruns: int = 0
    """Times the device itself reported an output underflow (the callback was late)."""
    suspended: bool = False
    """The stream is stopped for being idle (no callbacks, no CPU) until the next utterance."""


@dataclass(frozen=True, slots=True)
class OutputDevice:
    """An output device as ``voxtray devices`` lists it."""

    name: str
    index: int
    default_samplerate: float
    is_default: bool
    hostapi: str


class UtteranceOutput(Protocol):
    """One utterance being played; see the module docstring for how the worker uses it."""

    @property
    def first_sound(self) -> asyncio.Future[float]:
        """When the first non-silent sample was handed to the device (sinks: written)."""
        ...

    @property
    def finished(self) -> asyncio.Future[float]:
        """When the last sample left the callback after :meth:`end` (sinks: flushed)."""
        ...

    async def write(self, chunk: AudioChunk) -> None:
        """Queue a chunk; waits for room (backpressure), never drops, never blocks the loop."""
        ...

    def mark(self) -> asyncio.Future[float]:
        """A future resolved when playback reaches the end of everything written so far."""
        ...

    def end(self) -> None:
        """No more audio: flush the resampler tail; ``finished`` resolves once played."""
        ...

    def discard(self) -> None:
        """Drop unplayed audio, go silent, cancel pending futures; later writes are no-ops."""
        ...


class AudioOutput(Protocol):
    """Where utterances go: :class:`~.player.Player`, :class:`~.sinks.FileSink`, ``NullSink``."""

    volume: float

    @property
    def sample_rate(self) -> int: ...

    @property
    def paused(self) -> bool: ...

    async def open(self) -> None: ...

    def start_utterance(self) -> UtteranceOutput: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def counters(self) -> OutputCounters: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ReconfigurableOutput(Protocol):
    """An output whose device and latency can change while it plays (the :class:`~.player.Player`;
    sinks have neither)."""

    async def reconfigure(
        self, device: str | int | None = None, latency: float | None = None
    ) -> None: ...


def first_audible(samples: npt.NDArray[np.float32]) -> int | None:
    """Index of the first sample louder than :data:`SILENCE_THRESHOLD`, or ``None``."""
    loud = np.flatnonzero(np.abs(samples) > SILENCE_THRESHOLD)
    return int(loud[0]) if loud.size else None


def clamp_volume(volume: float) -> float:
    return min(max(float(volume), 0.0), MAX_VOLUME)
