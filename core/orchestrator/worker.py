"""The single worker: one request at a time, from the queue to the speakers.

Only this worker writes into the audio output, and it finishes (or cancels) one request before it
takes the next, which is the whole guarantee that speech never overlaps. Each request ends in
exactly one terminal event: finished, failed (with a sentence the user can read) or canceled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from ..audio.output import AudioOutput
from ..cache import AudioCache
from ..errors import EmptyTextError, ErrorCategory, VoxTrayError
from ..model import (
    ChapterFound,
    Event,
    FirstAudio,
    Repositioned,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestStarted,
    RequestWarning,
    Segment,
    SegmentAudible,
    SpeechProgress,
    TextEnded,
    TextRead,
    VoiceRef,
)
from ..providers.base import Provider
from ..providers.registry import ProviderRegistry
from ..resume import ResumeStore, document_key
from ..text.document import Chapter
from ..text.prepare import TextPreparer
from ..text.readers import open_document
from ..text.seekable import SeekableText
from ..text.segment import DEFAULT_FIRST_CLAUSE_CHARS, segment_text
from .limits import Backoff, CircuitBreaker
from .playback import Pauses, Playback
from .queue import QueueEntry, RequestQueue
from .scheduler import Fallback, Resilience, SynthesisScheduler
from .transport import Move, MoveKind, resolve

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
    pauses: Pauses = field(default_factory=lambda: Pauses(0.0, 0.0))
    """Silence added after sentences and paragraphs, at rate 1 (it shortens as speech speeds);
    none unless asked for (``build_narrator`` passes the user's ``[voice]`` settings)."""


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
        self._session: _Session | None = None
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

    @property
    def breakers(self) -> Mapping[str, CircuitBreaker]:
        """The circuit breaker of each provider that has failed since the start (health)."""
        return self._breakers

    async def warm_text(self) -> None:
        """Load the text pipeline's tables in a thread before the first request needs them."""
        preparer = self._settings.text
        if preparer is not None:
            await asyncio.to_thread(preparer.warm)

    def cancel_current(self) -> bool:
        """Cancel the request being spoken; its terminal event follows from the worker.

        The output is silenced here, synchronously, not when the cancellation has travelled
        down to the playback (see :meth:`Playback.silence`).
        """
        if self._task is None or self._task.done():
            return False
        if self._playback is not None:
            self._playback.silence()
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

    def move(self, move: Move) -> bool:
        """Rewind, skip by paragraph or chapter, jump, or restart the current request."""
        session = self._session
        if session is None:
            return False
        session.request(move)
        return True

    @property
    def chapters(self) -> list[Chapter]:
        """The chapters of the request being spoken, as found so far."""
        session = self._session
        return session.text.chapters if session is not None else []

    def change_rate(self, rate: float) -> bool:
        """Speak the rest of the current request at ``rate``, from its current sentence."""
        session = self._session
        if session is None:
            return False
        session.rate = rate
        session.request(Move(MoveKind.RESTART))
        return True

    async def _play(self, entry: QueueEntry) -> None:
        request = entry.request
        voice = request.voice or self._default_voice()
        provider = self._providers.get(voice.provider)
        known = len(request.text) if request.source is None and request.text is not None else None
        self._emit(RequestStarted(request_id=entry.request_id, voice=voice, length=known))
        text = await self._open_text(entry)
        try:
            place = await self._place(entry)
            if place.offset:
                self._emit(
                    RequestWarning(
                        request_id=entry.request_id,
                        message=f"Resuming {request.label} where you left off "
                        "(start again from the beginning with --from-start).",
                    )
                )
            session = _Session(text, rate=request.rate, position=place.offset)
            self._session = session
            self._place_of_current = place
            offset: int | None = place.offset
            first = True
            while offset is not None:
                if await self._run(entry, session, provider, voice, offset, first=first):
                    break
                first = False
                offset = await self._resolve(entry, session)
            place.finished()
        finally:
            self._session = None
            text.close()

    async def _run(
        self,
        entry: QueueEntry,
        session: _Session,
        provider: Provider,
        voice: VoiceRef,
        offset: int,
        *,
        first: bool,
    ) -> bool:
        """Speak from ``offset`` until the end (True) or until the listener moves (False)."""
        segments: Iterator[Segment] = segment_text(
            session.text.pieces_from(offset),
            max_chars=provider.capabilities.max_chars,
            first_clause_chars=self._settings.first_clause_chars,
        )
        if offset:
            segments = _shifted(segments, offset)
        playback = Playback(
            request_id=entry.request_id,
            output=self._output,
            on_first_sound=lambda at: self._first_sound(entry, at),
            on_segment_audible=lambda segment, offset, duration: self._segment_audible(
                entry, segment, offset, duration
            ),
            report_first_sound=first,
            pauses=self._settings.pauses.at_rate(session.rate),
            on_progress=(
                (lambda at: self._emit(SpeechProgress(request_id=entry.request_id, offset=at)))
                if self._settings.interactive
                else None
            ),
        )
        self._playback = playback
        session.moved.clear()
        async with SynthesisScheduler(
            request_id=entry.request_id,
            provider=provider,
            voice=voice,
            rate=session.rate,
            segments=segments,
            lookahead_seconds=self._settings.lookahead_seconds,
            resilience=self._resilience(voice),
            preparer=self._settings.text,
        ) as scheduler:
            play = asyncio.ensure_future(playback.play(aiter(scheduler)))
            moved = asyncio.ensure_future(session.moved.wait())
            try:
                await asyncio.wait({play, moved}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                moved.cancel()
                if not play.done():
                    play.cancel()  # the playback discards its unheard audio: silence at once
                await asyncio.gather(play, moved, return_exceptions=True)
            if session.pending:
                if play.done() and not play.cancelled() and play.exception() is not None:
                    play.result()  # a failure before the move still ends the request
                return False
            play.result()
        if first and playback.segments_written == 0 and not offset:
            what = entry.request.source.name if entry.request.source is not None else "The text"
            raise EmptyTextError(f"{what} contains no text to speak.")
        return True

    async def _resolve(self, entry: QueueEntry, session: _Session) -> int | None:
        """Apply the listener's moves, in order; where speech goes on (None: the end)."""
        target: int | None = session.position
        while session.pending and target is not None:
            move = session.pending.pop(0)
            heard_for = session.heard_for()
            target = await asyncio.to_thread(resolve, session.text, move, target, heard_for)
            session.moved_to(target)
        if target is not None:
            self._emit(Repositioned(request_id=entry.request_id, offset=target))
        return target

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

    async def _open_text(self, entry: QueueEntry) -> SeekableText:
        """The request's text, seekable; a document is checked (and opened) off the loop."""
        request = entry.request
        loop = asyncio.get_running_loop()
        request_id = entry.request_id

        def emit_soon(event: Event) -> None:  # called on the reader's thread
            loop.call_soon_threadsafe(self._emit, event)

        def warn(message: str) -> None:
            emit_soon(RequestWarning(request_id=request_id, message=message))

        on_text = on_chapter = None
        if self._settings.interactive:  # an export has no reading window to feed

            def on_text(start: int, text: str) -> None:
                emit_soon(TextRead(request_id=request_id, start=start, text=text))

            def on_chapter(index: int, chapter: Chapter) -> None:
                emit_soon(
                    ChapterFound(
                        request_id=request_id,
                        index=index,
                        title=chapter.title,
                        offset=chapter.offset,
                    )
                )

        source = request.source
        if source is None:
            words = request.text or ""
            return SeekableText(
                lambda *, again: iter([words]), on_text=on_text, on_chapter=on_chapter
            )

        def reopen(*, again: bool) -> Iterator[str]:
            return open_document(source, on_warning=None if again else warn)

        def on_end(length: int) -> None:
            emit_soon(TextEnded(request_id=request_id, length=length))

        # Opening checks the file and, for HTML and Word, parses it whole: off the loop.
        first: Iterator[str] = await asyncio.to_thread(open_document, source, on_warning=warn)
        return SeekableText(
            reopen, first=first, on_text=on_text, on_chapter=on_chapter, on_end=on_end
        )

    def _first_sound(self, entry: QueueEntry, at: float) -> None:
        latency = max(0.0, at - entry.submitted_at)
        self._emit(FirstAudio(request_id=entry.request_id, latency=latency, at=at))

    def _segment_audible(
        self, entry: QueueEntry, segment: Segment, offset: float, duration: float | None
    ) -> None:
        place = self._place_of_current
        if place is not None and self._current is entry:
            place.heard(segment)
        if self._session is not None and self._current is entry:
            self._session.heard(segment)
        self._emit(
            SegmentAudible(
                request_id=entry.request_id,
                segment_index=segment.index,
                start=segment.start,
                end=segment.end,
                text=segment.text,
                audio_offset=offset,
                duration=duration,
                at=time.monotonic(),
            )
        )


class _Place:
    """A document's reading position while it plays: noted as segments are heard, saved when
    the request ends or every few seconds, forgotten when the document was heard to its end.

    The position noted is the start of the sentence before the one being heard, so that a
    reopened document starts with a sentence already heard: the listener picks up the thread.
    A clause or a part is only a piece of a sentence, so the sentence is what counts, not the
    segment. After a move (a jump, a rewind, a skip by paragraph or chapter), the sentence
    heard before is no longer the one before: the new place itself is noted.
    """

    SAVE_EVERY = 5.0

    def __init__(self, store: ResumeStore | None, key: str | None, offset: int) -> None:
        self._store = store
        self._key = key
        self.offset = offset
        self._last: Segment | None = None
        self._sentence = offset
        """Start of the sentence being heard."""
        self._previous: int | None = None
        """Start of the sentence heard before it (None: none heard since the last move)."""
        self._saved_at = time.monotonic()

    def heard(self, segment: Segment) -> None:
        if self._store is None or self._key is None:
            return
        last, self._last = self._last, segment
        # Each stretch of speech (the first, and one after every move) is segmented afresh,
        # from index 0: a segment that does not follow the last one heard is a new place
        # (unless it starts the same sentence again: a new speed, a rewind to its start).
        if last is None or segment.index != last.index + 1:
            if segment.start != self._sentence:
                self._sentence, self._previous = segment.start, None
        elif last.kind.ends_sentence:
            self._sentence, self._previous = segment.start, self._sentence
        position = self._sentence if self._previous is None else self._previous
        self._store.set(self._key, position)
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


def _shifted(segments: Iterator[Segment], base: int) -> Iterator[Segment]:
    """Segments of the text after ``base`` with offsets into the whole document again."""
    for segment in segments:
        yield replace(segment, start=segment.start + base, end=segment.end + base)


class _Session:
    """The transport state of the request being spoken: where the listener is, and the moves
    asked for that the worker has not applied yet."""

    def __init__(self, text: SeekableText, *, rate: float, position: int) -> None:
        self.text = text
        self.rate = rate
        self.position = position
        """Start of the segment being heard (or of where speech is about to go on)."""
        self.audible_since: float | None = None
        self.pending: list[Move] = []
        self.moved = asyncio.Event()

    def request(self, move: Move) -> None:
        self.pending.append(move)
        self.moved.set()

    def heard(self, segment: Segment) -> None:
        self.position = segment.start
        self.audible_since = time.monotonic()

    def heard_for(self) -> float:
        """How long the current segment has been heard (0 when it has not started yet)."""
        if self.audible_since is None:
            return 0.0
        return time.monotonic() - self.audible_since

    def moved_to(self, offset: int | None) -> None:
        if offset is not None:
            self.position = offset
        self.audible_since = None
