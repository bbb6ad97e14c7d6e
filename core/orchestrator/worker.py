"""The single worker: one request at a time, from the queue to the speakers.

Only this worker writes into the audio output, and it finishes (or cancels) one request before it
takes the next, which is the whole guarantee that speech never overlaps. Each request ends in
exactly one terminal event: finished, failed (with a sentence the user can read) or canceled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from ..audio.output import AudioOutput
from ..cache import AudioCache
from ..errors import EmptyTextError, ErrorCategory, VoxTrayError
from ..model import (
    Event,
    FirstAudio,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestStarted,
    RequestWarning,
    Segment,
    SegmentAudible,
    VoiceRef,
)
from ..providers.registry import ProviderRegistry
from ..resume import ResumeStore, document_key
from ..text.prepare import TextPreparer
from ..text.readers import open_document
from ..text.segment import DEFAULT_FIRST_CLAUSE_CHARS, segment_text
from .limits import Backoff, CircuitBreaker
from .playback import Playback
from .queue import QueueEntry, RequestQueue
from .scheduler import Fallback, Resilience, SynthesisScheduler

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Tuning of the pipeline; defaults come from the user's settings."""

    lookahead_seconds: float = 10.0
    first_clause_chars: int = DEFAULT_FIRST_CLAUSE_CHARS
    resume: ResumeStore | None = None
    """Where reading positions are kept; None: documents always start at the beginning."""
    fallback_voice: VoiceRef | None = None
    """Where a request goes on when its own voice cannot (the cloud failed); None: nowhere."""
    interactive: bool = True
    """Someone listens live (False for export: nothing is urgent, every segment may batch)."""
    retry_base_delay: float = 0.5
    """First retry delay of a transient failure; doubles with each attempt (with jitter)."""
    text: TextPreparer | None = None
    """Turns each segment into what its provider should say; None: the text as written."""


class Worker:
    """Takes requests off the queue and speaks them, one at a time."""

    def __init__(
        self,
        *,
        queue: RequestQueue,
        output: AudioOutput,
        providers: ProviderRegistry,
        default_voice: Callable[[], VoiceRef],
        emit: Callable[[Event], None],
        settings: WorkerSettings | None = None,
        cache: AudioCache | None = None,
    ) -> None:
        self._queue = queue
        self._output = output
        self._providers = providers
        self._default_voice = default_voice
        self._emit = emit
        self._settings = settings or WorkerSettings()
        self._current: QueueEntry | None = None
        self._task: asyncio.Task[None] | None = None
        self._playback: Playback | None = None
        self._breakers: dict[str, CircuitBreaker] = {}
        self._place_of_current: _Place | None = None
        self._cache = cache
        self.running = False

    @property
    def current(self) -> QueueEntry | None:
        return self._current

    async def run(self) -> None:
        """Speak requests until cancelled."""
        self.running = True
        try:
            while True:
                entry = await self._queue.get()
                await self._speak(entry)
        finally:
            self.running = False

    def cancel_current(self) -> bool:
        """Cancel the request being spoken; its terminal event follows from the worker."""
        if self._task is None or self._task.done():
            return False
        self._task.cancel()
        return True

    def skip(self) -> bool:
        if self._playback is None:
            return False
        self._playback.skip()
        return True

    async def _speak(self, entry: QueueEntry) -> None:
        self._current = entry
        task = asyncio.ensure_future(self._play(entry))
        self._task = task
        try:
            await asyncio.wait({task})
        finally:
            if not task.done():  # the worker itself is shutting down
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            self._task = None
            self._playback = None
            self._current = None
            if self._place_of_current is not None:
                self._place_of_current.save()
                self._place_of_current = None
            self._emit(self._outcome(entry, task))

    def _outcome(self, entry: QueueEntry, task: asyncio.Task[None]) -> Event:
        request_id = entry.request_id
        if task.cancelled():
            return RequestCanceled(request_id=request_id)
        error = task.exception()
        if error is None:
            return RequestFinished(request_id=request_id)
        if isinstance(error, VoxTrayError):
            return RequestFailed(
                request_id=request_id, reason=error.message, category=error.category
            )
        _LOG.error("Speaking request %d failed", request_id, exc_info=error)
        return RequestFailed(
            request_id=request_id,
            reason=f"VoxTray hit an internal error and could not speak this ({error!r}).",
            category=ErrorCategory.CONFIGURATION,
        )

    async def _play(self, entry: QueueEntry) -> None:
        request = entry.request
        voice = request.voice or self._default_voice()
        provider = self._providers.get(voice.provider)
        self._emit(RequestStarted(request_id=entry.request_id, voice=voice))
        pieces = await self._pieces(entry)
        place = await self._place(entry)
        segments: Iterator[Segment] = segment_text(
            _after(pieces, place.offset) if place.offset else pieces,
            max_chars=provider.capabilities.max_chars,
            first_clause_chars=self._settings.first_clause_chars,
        )
        if place.offset:
            segments = _shifted(segments, place.offset)
            self._emit(
                RequestWarning(
                    request_id=entry.request_id,
                    message=f"Resuming {request.label} where you left off "
                    "(start again from the beginning with --from-start).",
                )
            )
        self._place_of_current = place
        playback = Playback(
            request_id=entry.request_id,
            output=self._output,
            on_first_sound=lambda at: self._first_sound(entry, at),
            on_segment_audible=lambda segment, offset: self._segment_audible(
                entry, segment, offset
            ),
        )
        self._playback = playback
        async with SynthesisScheduler(
            request_id=entry.request_id,
            provider=provider,
            voice=voice,
            rate=request.rate,
            segments=segments,
            lookahead_seconds=self._settings.lookahead_seconds,
            resilience=self._resilience(voice),
            preparer=self._settings.text,
        ) as scheduler:
            await playback.play(aiter(scheduler))
        if playback.segments_written == 0 and not place.offset:
            what = request.source.name if request.source is not None else "The text"
            raise EmptyTextError(f"{what} contains no text to speak.")
        place.finished()

    async def _place(self, entry: QueueEntry) -> _Place:
        """Where a document starts: where the listener left it, a sentence early."""
        store = self._settings.resume
        request = entry.request
        if store is None or request.source is None or request.from_start:
            return _Place(store, None, 0)
        try:
            key = await asyncio.to_thread(document_key, request.source)
        except OSError:
            return _Place(store, None, 0)  # the reader reports an unreadable file properly
        return _Place(store, key, store.get(key) or 0)

    def _resilience(self, voice: VoiceRef) -> Resilience:
        """Retry and fallback policy; circuit breakers persist across requests."""
        target = self._settings.fallback_voice
        fallback = None
        if target is not None and target.provider != voice.provider:
            fallback = Fallback(self._providers.get(target.provider), target)
        return Resilience(
            fallback=fallback,
            breakers=self._breakers,
            backoff=Backoff(base=self._settings.retry_base_delay),
            emit=self._emit,
            interactive=self._settings.interactive,
            cache=self._cache,
        )

    async def _pieces(self, entry: QueueEntry) -> Iterable[str]:
        request = entry.request
        if request.source is None:
            return [request.text or ""]
        loop = asyncio.get_running_loop()

        def warn(message: str) -> None:  # called on the reader's thread
            event = RequestWarning(request_id=entry.request_id, message=message)
            loop.call_soon_threadsafe(self._emit, event)

        # Opening checks and, for Markdown, HTML and Word, parses the whole file: off the loop.
        pieces: Iterator[str] = await asyncio.to_thread(
            open_document, request.source, on_warning=warn
        )
        return pieces

    def _first_sound(self, entry: QueueEntry, at: float) -> None:
        latency = max(0.0, at - entry.submitted_at)
        self._emit(FirstAudio(request_id=entry.request_id, latency=latency, at=at))

    def _segment_audible(self, entry: QueueEntry, segment: Segment, offset: float) -> None:
        place = self._place_of_current
        if place is not None and self._current is entry:
            place.heard(segment)
        self._emit(
            SegmentAudible(
                request_id=entry.request_id,
                segment_index=segment.index,
                start=segment.start,
                end=segment.end,
                text=segment.text,
                audio_offset=offset,
                at=time.monotonic(),
            )
        )


class _Place:
    """A document's reading position while it plays: noted as segments are heard, saved when
    the request ends or every few seconds, forgotten when the document was heard to its end."""

    SAVE_EVERY = 5.0

    def __init__(self, store: ResumeStore | None, key: str | None, offset: int) -> None:
        self._store = store
        self._key = key
        self.offset = offset
        self._previous_start: int | None = None
        self._saved_at = time.monotonic()

    def heard(self, segment: Segment) -> None:
        """Remember the sentence before the one now heard: resuming rewinds one sentence."""
        if self._store is None or self._key is None:
            return
        self._store.set(self._key, self._previous_start or segment.start)
        self._previous_start = segment.start
        if time.monotonic() - self._saved_at > self.SAVE_EVERY:
            self.save()

    def finished(self) -> None:
        if self._store is not None and self._key is not None:
            self._store.forget(self._key)
            self._key = None

    def save(self) -> None:
        if self._store is not None:
            self._store.save()
            self._saved_at = time.monotonic()


def _after(pieces: Iterable[str], skip: int) -> Iterator[str]:
    """The text after its first ``skip`` characters, still as a stream of pieces."""
    for piece in pieces:
        if skip >= len(piece):
            skip -= len(piece)
            continue
        yield piece[skip:]
        skip = 0


def _shifted(segments: Iterator[Segment], base: int) -> Iterator[Segment]:
    """Segments of the text after ``base`` with offsets into the whole document again."""
    for segment in segments:
        yield replace(segment, start=segment.start + base, end=segment.end + base)
