"""An in-memory AudioOutput that "plays" on a simulated clock, for orchestrator unit tests.

It consumes written frames at ``speed`` times real time on the event loop, resolving marks,
first-sound and finished futures as a real player would, and records every frame it "played"
per utterance. The real Player is tested against a real sound server elsewhere; this exists so
queue, cancel, skip and ordering logic can be checked quickly and exactly.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np
from voxtray.core.audio.output import OutputCounters, first_audible
from voxtray.core.model import AudioChunk


@dataclass
class PlayedUtterance:
    """What one utterance put out, in order."""

    frames: list[np.ndarray] = field(default_factory=list)
    discarded: bool = False

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.float32)


class _Utterance:
    def __init__(self, output: ClockedOutput) -> None:
        self._output = output
        loop = asyncio.get_running_loop()
        self._first_sound: asyncio.Future[float] = loop.create_future()
        self._finished: asyncio.Future[float] = loop.create_future()
        self.pending: list[np.ndarray] = []
        self.marks: list[tuple[int, asyncio.Future[float]]] = []
        self.written = 0
        self.played = 0
        self.ended = False
        self.discarded = False
        self.record = PlayedUtterance()
        self.first_sound_at: int | None = None

    @property
    def first_sound(self) -> asyncio.Future[float]:
        return self._first_sound

    @property
    def finished(self) -> asyncio.Future[float]:
        return self._finished

    async def write(self, chunk: AudioChunk) -> None:
        if self.discarded:
            return
        samples = np.frombuffer(chunk.pcm, dtype="<i2").astype(np.float32) / 32768.0
        if self.first_sound_at is None:
            index = first_audible(samples)
            if index is not None:
                self.first_sound_at = self.written + index
        self.pending.append(samples)
        self.written += len(samples)
        self._output.wake.set()
        while not self.discarded and self.written - self.played > self._output.capacity:
            await self._output.space.wait()
            self._output.space.clear()

    def mark(self) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.discarded:
            future.cancel()
        else:
            self.marks.append((self.written, future))
            self._output.wake.set()
        return future

    def end(self) -> None:
        self.ended = True
        self._output.wake.set()

    def discard(self) -> None:
        if self.discarded:
            return
        self.discarded = True
        self.record.discarded = True
        self.pending.clear()
        for _, future in self.marks:
            future.cancel()
        self._first_sound.cancel()
        self._finished.cancel()
        self._output.space.set()


class ClockedOutput:
    """Plays utterances one at a time at ``speed`` × real time; records what was played."""

    def __init__(self, *, sample_rate: int = 22050, speed: float = 20.0, capacity_s: float = 2.0):
        self._rate = sample_rate
        self.speed = speed
        self.capacity = int(capacity_s * sample_rate)
        self.volume = 1.0
        self._paused = False
        self.wake = asyncio.Event()
        self.space = asyncio.Event()
        self.utterances: list[PlayedUtterance] = []
        self._current: _Utterance | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames_played = 0
        self.overlaps = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def paused(self) -> bool:
        return self._paused

    async def open(self) -> None:
        self._task = asyncio.ensure_future(self._clock())

    def start_utterance(self) -> _Utterance:
        if self._current is not None and not (self._current.discarded or self._current.ended):
            self.overlaps += 1
        utterance = _Utterance(self)
        self._current = utterance
        self.utterances.append(utterance.record)
        return utterance

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self.wake.set()

    def counters(self) -> OutputCounters:
        return OutputCounters(0, 0.0, self.frames_played, "clocked", self._rate, 0.0)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _clock(self) -> None:
        tick = 0.005
        frames_per_tick = max(1, int(self._rate * tick * self.speed))
        while True:
            await asyncio.sleep(tick)
            utterance = self._current
            if utterance is None or self._paused or utterance.discarded:
                continue
            budget = frames_per_tick
            while budget and utterance.pending:
                head = utterance.pending[0]
                take = head[:budget]
                utterance.record.frames.append(take)
                if len(take) == len(head):
                    utterance.pending.pop(0)
                else:
                    utterance.pending[0] = head[budget:]
                budget -= len(take)
                utterance.played += len(take)
                self.frames_played += len(take)
            now = time.monotonic()
            for position, future in list(utterance.marks):
                if utterance.played >= position and not future.done():
                    future.set_result(now)
            if (
                utterance.first_sound_at is not None
                and utterance.played > utterance.first_sound_at
                and not utterance.first_sound.done()
            ):
                utterance.first_sound.set_result(now)
            if utterance.ended and not utterance.pending and not utterance.finished.done():
                utterance.finished.set_result(now)
            self.space.set()
