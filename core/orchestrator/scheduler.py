"""Look-ahead synthesis: segment N+1… are synthesized while segment N plays.

The scheduler pulls segments from the (blocking, streaming) segmenter on a worker thread, starts
synthesis jobs as far ahead as two budgets allow, and hands the audio back strictly in segment
order, however the jobs finish:

* **concurrency**: never more jobs in flight than the provider's ``max_concurrency`` (for a
  cloud voice this is the plan's limit; for Piper, how many cores it may take);
* **seconds ahead**: synthesized-but-unplayed audio is capped at ``lookahead_seconds``, so a
  long document never piles up in memory and a cancel wastes little work.

A failure of segment *k* is not raised where it happens: it is delivered in order, when the
consumer reaches *k*, so everything before it still plays. Before that, the failure is dealt
with by its category (:class:`~voxtray.core.errors.ErrorCategory`): transient failures and rate
limits are retried with backoff (``Retry-After`` honoured); a stream that dropped after some
audio resumes at the first word not yet delivered, never from the segment's start; a refused
key or an exhausted quota, repeated failures (the circuit breaker) or a permanent refusal make
the rest of the request continue with the fallback voice, and listeners are told why.

Every task here is owned by the scheduler's task group and cancelled and awaited on exit.

**Prepared text.** With a :class:`~voxtray.core.text.prepare.TextPreparer`, a job's segment
keeps its source ``start``/``end`` but its ``text`` is what the provider should say (the
pronunciation rules, then numbers, URLs, emoji… in words), prepared for the provider that
actually speaks it: a fallback to the local voice re-prepares, with numbers expanded. The cache
key is made from the prepared text. Resume stays in *source* coordinates: a provider's
``spoken_chars`` counts prepared characters, is mapped back through the preparation's offset
map (a word cut inside an expansion maps to the start of that word), and the remainder of the
source is prepared afresh, so a resumed stream never repeats or skips a source word.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self

from ..audio.stretch import TimeStretcher
from ..cache import AudioCache
from ..errors import ErrorCategory, RateLimitedError, SynthesisError, VoxTrayError
from ..model import (
    SAMPLE_WIDTH,
    AudioChunk,
    Event,
    ProviderFellBack,
    RequestId,
    RequestWarning,
    Segment,
    SynthesisJob,
    SynthesisRetried,
    VoiceRef,
)
from ..providers.base import CachesAudio, Provider
from ..text.prepare import RequestText, SegmentContext, TextPreparer
from ..text.speakable import Spoken
from .limits import Backoff, CircuitBreaker

_LOG = logging.getLogger(__name__)
_END: Any = object()


class SegmentAudio:
    """The audio of one segment as it arrives; iterate it to consume the chunks in order.

    Chunks are kept as the voice made them, with the tempo change still to apply (a cloud voice
    asked for 2× speaks at its 1.2× limit and the rest is time-stretched here, on the way out):
    the resilience bookkeeping (frames delivered, where a dropped stream resumes) stays in the
    voice's own frames, whatever the speed.
    """

    def __init__(self, segment: Segment, on_consumed: Any) -> None:
        self.segment = segment
        self._chunks: deque[tuple[AudioChunk, float]] = deque()
        self._done = False
        self._error: BaseException | None = None
        self._changed = asyncio.Event()
        self._on_consumed = on_consumed
        self._stretcher: TimeStretcher | None = None
        self.delivered_frames = 0
        self.last_spoken_chars: int | None = None
        """Characters of the segment's source text covered by the audio received so far, if
        known (a provider's count of prepared characters is mapped back to the source)."""

    @property
    def buffered_seconds(self) -> float:
        return sum(chunk.duration / stretch for chunk, stretch in self._chunks)

    @property
    def buffered_frames(self) -> int:
        return sum(chunk.frames for chunk, _ in self._chunks)

    def push(self, chunk: AudioChunk, stretch: float = 1.0) -> None:
        """Add a chunk; ``stretch`` is the tempo change still to apply to it (1: none)."""
        self._chunks.append((chunk, stretch))
        if chunk.spoken_chars is not None:
            self.last_spoken_chars = chunk.spoken_chars
        self._changed.set()

    def finish(self, error: BaseException | None = None) -> None:
        self._done = True
        self._error = error
        self._changed.set()

    def discard(self) -> None:
        """Drop what is buffered (the user skipped this segment)."""
        self._chunks.clear()
        self._stretcher = None
        self._on_consumed()

    def __aiter__(self) -> AsyncIterator[AudioChunk]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AudioChunk]:
        while True:
            if self._chunks:
                chunk, stretch = self._chunks.popleft()
                self.delivered_frames += chunk.frames
                self._on_consumed()
                for out in self._tempo(chunk, stretch):
                    yield out
            elif self._done:
                stretcher, self._stretcher = self._stretcher, None
                if stretcher is not None and (rest := stretcher.flush()):
                    yield AudioChunk(rest, stretcher.sample_rate, self.last_spoken_chars)
                if self._error is not None:
                    raise self._error
                return
            else:
                self._changed.clear()
                await self._changed.wait()

    def _tempo(self, chunk: AudioChunk, stretch: float) -> list[AudioChunk]:
        """``chunk`` at its tempo; a stretcher keeps a window of audio between calls."""
        out: list[AudioChunk] = []
        current = self._stretcher
        if current is not None and (stretch == 1.0 or current.speed != stretch):
            rest = current.flush()  # the voice changed (a fallback): finish the old tempo
            if rest:
                out.append(AudioChunk(rest, current.sample_rate, chunk.spoken_chars))
            self._stretcher = current = None
        if stretch == 1.0:
            out.append(chunk)
            return out
        if current is None:
            current = self._stretcher = TimeStretcher(stretch, chunk.sample_rate)
        pcm = current.process(chunk.pcm)
        if pcm:
            out.append(AudioChunk(pcm, chunk.sample_rate, chunk.spoken_chars))
        return out


def split_rate(rate: float, reachable: tuple[float, float]) -> tuple[float, float]:
    """``rate`` as what the voice says itself and the tempo change left for time-stretching."""
    low, high = reachable
    native = min(high, max(low, rate))
    stretch = rate / native
    return native, (1.0 if abs(stretch - 1.0) < 1e-3 else stretch)


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
        resilience: Resilience | None = None,
        preparer: TextPreparer | None = None,
    ) -> None:
        self._request_id = request_id
        self._preparer = preparer
        self._text: RequestText | None = preparer.for_request() if preparer else None
        self._provider = provider
        self._voice = voice
        self._resilience = resilience or Resilience()
        self._fell_back = False
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
        try:
            await self._group.__aexit__(exc_type, exc, traceback)
        except BaseExceptionGroup as group:
            # A TaskGroup wraps the body's own exception (a segment's failure, raised in order
            # by the consumer) in an ExceptionGroup. Our tasks never fail (they deliver their
            # errors as slots), so a group holding only that exception is just the failure:
            # let it propagate as itself, so the worker can report it by its category.
            if exc is not None and list(group.exceptions) == [exc]:
                return
            raise

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
                context, voice = await self._context(segment)
                await slots.acquire()
                audio = SegmentAudio(segment, self._consumed)
                self._deliver(audio)
                job = SynthesisJob(
                    self._request_id,
                    segment,
                    voice,
                    self._rate,
                    previous_text[-300:],
                    urgent=self.segments_started == 0 and self._resilience.interactive,
                )
                self.segments_started += 1
                self._spawn(self._synthesize(job, audio, slots, context))
                previous_text = segment.text
        except VoxTrayError as error:
            self._deliver(error)
        except Exception as error:  # a bug in the text pipeline must not kill the worker
            _LOG.exception("Reading the text failed")
            self._deliver(SynthesisError(f"The text could not be read further: {error}"))
        finally:
            self._source_done = True
            self._ready.set()

    async def _context(self, segment: Segment) -> tuple[SegmentContext | None, VoiceRef]:
        """The segment's language and code state (in order, off the loop) and its voice."""
        if self._text is None or self._preparer is None:
            return None, self._voice
        context = await asyncio.to_thread(self._text.context, segment.text)
        voice, note = self._preparer.voice_for(context.language, self._voice)
        if note is not None:
            self._resilience.emit(RequestWarning(request_id=self._request_id, message=note))
        return context, voice

    async def _synthesize(
        self,
        job: SynthesisJob,
        audio: SegmentAudio,
        slots: asyncio.Semaphore,
        context: SegmentContext | None = None,
    ) -> None:
        try:
            error = await self._synthesize_resiliently(job, audio, context)
            audio.finish(error)
        finally:
            slots.release()

    def _current(self, voice: VoiceRef) -> tuple[Provider, VoiceRef]:
        fallback = self._resilience.fallback
        if self._fell_back and fallback is not None:
            return fallback.provider, fallback.voice
        return self._provider, voice

    def _fall_back(self, reason: str) -> bool:
        """Go on with the fallback voice for the rest of the request; False if there is none."""
        fallback = self._resilience.fallback
        if fallback is None or fallback.provider is self._provider:
            return False
        if not self._fell_back:
            self._fell_back = True
            self._resilience.emit(
                ProviderFellBack(
                    request_id=self._request_id,
                    from_provider=self._provider.id,
                    to_provider=fallback.provider.id,
                    reason=reason,
                )
            )
        return True

    async def _synthesize_resiliently(
        self, job: SynthesisJob, audio: SegmentAudio, context: SegmentContext | None = None
    ) -> VoxTrayError | None:
        """Synthesize one segment, retrying, resuming and falling back as each failure allows.

        Returns the error that ends the segment, or ``None`` when all of it was delivered.
        """
        policy = self._resilience
        done_chars = 0  # characters of the segment's source already delivered as audio
        skip_frames = 0  # audio to drop from a restart that cannot resume by characters
        attempt = 0
        last_failure: VoxTrayError | None = None  # what the user is told if the breaker opens
        while True:
            provider, voice = self._current(job.voice)
            breaker = policy.breaker(provider.id)
            if (
                breaker is not None
                and not breaker.allow()
                and self._fall_back(_keeps_failing(provider.id, last_failure))
            ):
                continue
            part = _remainder(job.segment, done_chars)
            prepared = self._prepared(part, provider, voice, context, job.segment.text[:done_chars])
            if prepared is not None:
                if not prepared.text:
                    return None  # nothing to say (a skipped code block, a lone emoji dropped)
                part = replace(part, text=prepared.text)
            native, stretch = split_rate(job.rate, provider.capabilities.rate_range)
            current = replace(job, segment=part, voice=voice, rate=native)
            delivered_before = audio.delivered_frames + audio.buffered_frames
            whole = done_chars == 0 and skip_frames == 0
            made: list[AudioChunk] = []
            try:
                cache_key = await self._cache_key(provider, current) if whole else None
                if cache_key is not None and await self._from_cache(cache_key, job, audio, stretch):
                    return None
                async for chunk in provider.synthesize(current):
                    if cache_key is not None:
                        made.append(chunk)
                    if skip_frames:
                        kept, skip_frames = _drop_frames(chunk, skip_frames)
                        if kept is None:
                            continue
                        chunk = kept
                    if chunk.spoken_chars is not None:
                        said = chunk.spoken_chars
                        if prepared is not None:  # prepared characters → source characters
                            said = prepared.source_offset(said)
                        chunk = replace(chunk, spoken_chars=done_chars + said)
                    audio.push(chunk, stretch)
                if breaker is not None:
                    breaker.record_success()
                if cache_key is not None and made:
                    await self._to_cache(cache_key, made)
                return None
            except VoxTrayError as error:
                failure = error
            except Exception as error:  # a provider bug: fail this segment, in order
                _LOG.exception("Synthesis of segment %d failed", job.segment.index)
                failure = SynthesisError(f"The voice failed unexpectedly: {error}")
            last_failure = failure
            produced = audio.delivered_frames + audio.buffered_frames - delivered_before
            if produced:
                # Never start the segment over: resume where the heard audio ends.
                spoken = audio.last_spoken_chars
                if spoken is not None and spoken > done_chars:
                    done_chars = _word_start(job.segment.text, spoken)
                    skip_frames = 0
                elif spoken is None:
                    skip_frames += produced
            category = failure.category
            if category in (ErrorCategory.AUTHENTICATION, ErrorCategory.QUOTA):
                if breaker is not None:
                    breaker.trip()
                if self._fall_back(failure.message):
                    attempt = 0
                    continue
                return failure
            if failure.is_permanent:
                if provider is self._provider and self._fall_back(failure.message):
                    attempt = 0
                    continue
                return failure
            attempt += 1
            if category is not ErrorCategory.RATE_LIMIT and breaker is not None:
                breaker.record_failure()
            if attempt >= policy.max_attempts:
                if provider is self._provider and self._fall_back(failure.message):
                    attempt = 0
                    continue
                return failure
            retry_after = failure.retry_after if isinstance(failure, RateLimitedError) else None
            delay = policy.backoff.delay(attempt, retry_after)
            policy.emit(
                SynthesisRetried(
                    request_id=self._request_id,
                    provider=provider.id,
                    attempt=attempt,
                    delay=delay,
                    reason=failure.message,
                )
            )
            _LOG.info("Retrying segment %d in %.2f s: %s", job.segment.index, delay, failure)
            await asyncio.sleep(delay)

    def _prepared(
        self,
        part: Segment,
        provider: Provider,
        voice: VoiceRef,
        context: SegmentContext | None,
        before: str,
    ) -> Spoken | None:
        """What ``provider`` is given for the rest of a segment; None: the text as it is."""
        if self._preparer is None:
            return None
        if context is not None and before:
            context = context.after(before)
        return self._preparer.prepare(part.text, provider=provider.id, voice=voice, context=context)

    async def _cache_key(self, provider: Provider, job: SynthesisJob) -> str | None:
        cache = self._resilience.cache
        if cache is None or not isinstance(provider, CachesAudio):
            return None
        identity = await provider.cache_identity(job)
        if identity is None:
            return None
        return cache.key(
            provider=provider.id,
            voice=identity.voice,
            model=identity.model,
            settings=identity.settings,
            audio_format=identity.audio_format,
            text=job.segment.text,
            context=identity.context,
        )

    async def _from_cache(
        self, key: str, job: SynthesisJob, audio: SegmentAudio, stretch: float
    ) -> bool:
        """Play a cached segment: no request, nothing billed. A cache failure is a miss."""
        cache = self._resilience.cache
        assert cache is not None
        try:
            hit = await cache.aget(key)
        except Exception:
            _LOG.warning("The audio cache could not be read", exc_info=True)
            return False
        if hit is None:
            return False
        # Only a whole segment is looked up; spoken_chars counts the segment's source characters.
        audio.push(AudioChunk(hit.pcm, hit.sample_rate, len(job.segment.text)), stretch)
        return True

    async def _to_cache(self, key: str, chunks: list[AudioChunk]) -> None:
        cache = self._resilience.cache
        assert cache is not None
        rates = {chunk.sample_rate for chunk in chunks}
        if len(rates) != 1:
            return
        try:
            await cache.aput(key, b"".join(chunk.pcm for chunk in chunks), rates.pop())
        except Exception:
            _LOG.warning("The audio cache could not be written", exc_info=True)


@dataclass(frozen=True, slots=True)
class Fallback:
    """The voice a request continues with when its own provider cannot go on."""

    provider: Provider
    voice: VoiceRef


@dataclass(slots=True)
class Resilience:
    """How the scheduler reacts to failures; shared by the requests of one narrator."""

    fallback: Fallback | None = None
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 4
    emit: Callable[[Event], None] = lambda event: None
    interactive: bool = True
    """Whether someone is listening live (the first segment of each request is urgent)."""
    cache: AudioCache | None = None
    """Where costly audio (a cloud voice's) is kept so it is never paid for twice."""

    def breaker(self, provider_id: str) -> CircuitBreaker | None:
        if self.fallback is None or provider_id == self.fallback.provider.id:
            return None  # the last resort is never short-circuited
        return self.breakers.setdefault(provider_id, CircuitBreaker())


def _keeps_failing(provider_id: str, last: VoxTrayError | None) -> str:
    """Why the rest is spoken by the fallback voice: the last failure, said plainly."""
    if last is None:  # the breaker was opened by earlier requests
        return f"The {provider_id} voice keeps failing; using the local voice for now."
    said = last.message.rstrip()
    return (
        f"{said}{'' if said.endswith(('.', '”', '!', '?')) else '.'} Using the local voice for now."
    )


def _remainder(segment: Segment, done_chars: int) -> Segment:
    if done_chars <= 0:
        return segment
    return replace(segment, text=segment.text[done_chars:], start=segment.start + done_chars)


def _word_start(text: str, position: int) -> int:
    """The start of the word that ``position`` falls in (a cut word is said again whole)."""
    position = min(position, len(text))
    while position > 0 and not text[position - 1].isspace():
        position -= 1
    return position


def _drop_frames(chunk: AudioChunk, frames: int) -> tuple[AudioChunk | None, int]:
    if frames >= chunk.frames:
        return None, frames - chunk.frames
    return replace(chunk, pcm=chunk.pcm[frames * SAMPLE_WIDTH :]), 0
