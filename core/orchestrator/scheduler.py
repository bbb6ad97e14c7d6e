"""Look-ahead synthesis: segment N+1… are synthesized while segment N plays.

The scheduler pulls segments from the (blocking, streaming) segmenter on a worker thread, starts
synthesis jobs as far ahead as two budgets allow, and hands the audio back strictly in segment
order, however the jobs finish:

* **concurrency**: never more jobs in flight than the provider's ``max_concurrency`` (for a
  cloud voice this is the plan's limit; for Piper, how many cores it may take);
* **seconds ahead**: synthesized-but-unplayed audio is capped at ``lookahead_seconds``, so a
  long document never piles up in memory and a cancel wastes little work.

A failure of segment *k* is not raised where it happens: it is delivered in order, when the
consumer reaches *k*, so everything before it still plays. Transient failures are retried once
before any of the segment's audio was delivered.

Every task here is owned by the scheduler's task group and cancelled and awaited on exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Self

from ..errors import ProviderError, SynthesisError, VoxTrayError
from ..model import AudioChunk, RequestId, Segment, SynthesisJob, VoiceRef
from ..providers.base import Provider

_LOG = logging.getLogger(__name__)
_END: Any = object()

MAX_ATTEMPTS = 2
"""Attempts per segment for a transient failure (richer retry policy lives with cloud limits)."""


class SegmentAudio:
    """The audio of one segment as it arrives; iterate it to consume the chunks in order."""

    def __init__(self, segment: Segment, on_consumed: Any) -> None:
        self.segment = segment
        self._chunks: deque[AudioChunk] = deque()
        self._done = False
        self._error: BaseException | None = None
        self._changed = asyncio.Event()
        self._on_consumed = on_consumed
        self.delivered_frames = 0

    @property
    def buffered_seconds(self) -> float:
        return sum(chunk.duration for chunk in self._chunks)

    def push(self, chunk: AudioChunk) -> None:
        self._chunks.append(chunk)
        self._changed.set()

    def finish(self, error: BaseException | None = None) -> None:
        self._done = True
        self._error = error
        self._changed.set()

    def discard(self) -> None:
        """Drop what is buffered (the user skipped this segment)."""
        self._chunks.clear()
        self._on_consumed()

    def __aiter__(self) -> AsyncIterator[AudioChunk]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AudioChunk]:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self.delivered_frames += chunk.frames
                self._on_consumed()
                yield chunk
            elif self._done:
                if self._error is not None:
                    raise self._error
                return
            else:
                self._changed.clear()
                await self._changed.wait()


class SynthesisScheduler:
    """Synthesizes a request's segments ahead of playback and yields them in order.

    Use as ``async with SynthesisScheduler(...) as segments: async for audio in segments: …``.
    Everything runs on the event loop; the two events below are the only wake-ups (the consumer
    waits for ``_ready``, the producer for ``_room``), and both sides re-check their condition
    after waking, so a wake-up is never lost.
    """

    def __init__(
        self,
        *,
        request_id: RequestId,
        provider: Provider,
        voice: VoiceRef,
        rate: float,
        segments: Iterator[Segment],
        lookahead_seconds: float = 10.0,
        max_segments_ahead: int = 32,
    ) -> None:
        self._request_id = request_id
        self._provider = provider
        self._voice = voice
        self._rate = rate
        self._segments = segments
        self._lookahead_seconds = lookahead_seconds
        self._max_segments_ahead = max_segments_ahead
        self._slots: deque[SegmentAudio | BaseException] = deque()
        self._source_done = False
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._group = asyncio.TaskGroup()
        self._tasks: set[asyncio.Task[None]] = set()
        self.segments_started = 0

    async def __aenter__(self) -> Self:
        await self._group.__aenter__()
        self._spawn(self._produce())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await self._group.__aexit__(exc_type, exc, traceback)

    def __aiter__(self) -> AsyncIterator[SegmentAudio]:
        return self._ordered()

    async def _ordered(self) -> AsyncIterator[SegmentAudio]:
        while True:
            while not self._slots and not self._source_done:
                self._ready.clear()
                await self._ready.wait()
            if not self._slots:
                return
            slot = self._slots.popleft()
            self._room.set()
            if isinstance(slot, BaseException):
                raise slot
            yield slot

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = self._group.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _has_room(self) -> bool:
        if len(self._slots) >= self._max_segments_ahead:
            return False
        buffered = sum(s.buffered_seconds for s in self._slots if isinstance(s, SegmentAudio))
        return buffered < self._lookahead_seconds

    def _consumed(self) -> None:
        self._room.set()

    def _deliver(self, slot: SegmentAudio | BaseException) -> None:
        self._slots.append(slot)
        self._ready.set()

    async def _produce(self) -> None:
        """Pull segments and start their synthesis while both budgets allow."""
        slots = asyncio.Semaphore(self._provider.capabilities.max_concurrency)
        previous_text = ""
        try:
            while True:
                segment = await asyncio.to_thread(next, self._segments, _END)
                if segment is _END:
                    break
                while not self._has_room():
                    self._room.clear()
                    await self._room.wait()
                await slots.acquire()
                audio = SegmentAudio(segment, self._consumed)
                self._deliver(audio)
                job = SynthesisJob(
                    self._request_id, segment, self._voice, self._rate, previous_text[-300:]
                )
                self.segments_started += 1
                self._spawn(self._synthesize(job, audio, slots))
                previous_text = segment.text
        except VoxTrayError as error:
            self._deliver(error)
        except Exception as error:  # a bug in the text pipeline must not kill the worker
            _LOG.exception("Reading the text failed")
            self._deliver(SynthesisError(f"The text could not be read further: {error}"))
        finally:
            self._source_done = True
            self._ready.set()

    async def _synthesize(
        self, job: SynthesisJob, audio: SegmentAudio, slots: asyncio.Semaphore
    ) -> None:
        try:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                produced = 0
                try:
                    async for chunk in self._provider.synthesize(job):
                        produced += 1
                        audio.push(chunk)
                    audio.finish()
                    return
                except ProviderError as error:
                    if error.is_permanent or produced or attempt == MAX_ATTEMPTS:
                        audio.finish(error)
                        return
                    _LOG.info("Retrying segment %d after: %s", job.segment.index, error)
                except VoxTrayError as error:
                    audio.finish(error)
                    return
                except Exception as error:  # a provider bug: fail this segment, in order
                    _LOG.exception("Synthesis of segment %d failed", job.segment.index)
                    audio.finish(SynthesisError(f"The voice failed unexpectedly: {error}"))
                    return
        finally:
            slots.release()
