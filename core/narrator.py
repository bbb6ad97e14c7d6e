"""The facade the tray app and the CLI use: speak, cancel, stop, pause, skip, events, stats.

A :class:`Narrator` owns everything behind it: the queue, the single worker, the audio output
and the providers. Its tasks live in one task group, so ``aclose()`` (or leaving ``async with``)
cancels and awaits all of them and closes the sound card stream and the voice threads: nothing
is left running.

All methods are called on the event loop. ``speak()`` and the commands are synchronous on
purpose: a hotkey handler must never wait to be heard.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from .audio.output import AudioOutput
from .cache import AudioCache
from .errors import EmptyTextError
from .model import (
    Event,
    OutputDeviceChanged,
    Priority,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestId,
    RequestQueued,
    SpeakRequest,
    TerminalEvent,
    TextUnit,
    VoiceRef,
)
from .orchestrator.limits import BreakerState
from .orchestrator.queue import QueueEntry, RequestQueue
from .orchestrator.transport import Move, MoveKind
from .orchestrator.worker import Worker, WorkerSettings
from .providers.base import ReportsCounters
from .providers.registry import ProviderRegistry
from .stats import BreakerView, StatsRecorder, StatsSnapshot
from .text.document import Chapter

_LOG = logging.getLogger(__name__)

EventListener = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """A row of the queue as the UI shows it."""

    request_id: RequestId
    label: str
    priority: Priority
    playing: bool


class RequestHandle:
    """What ``speak()`` returns: the request's id and a way to wait for its outcome."""

    def __init__(self, request_id: RequestId, request: SpeakRequest) -> None:
        self.request_id = request_id
        self.request = request
        self._outcome: asyncio.Future[TerminalEvent] = asyncio.get_running_loop().create_future()

    @property
    def done(self) -> bool:
        return self._outcome.done()

    async def wait(self) -> TerminalEvent:
        """The terminal event: finished, failed or canceled. Never raises for those."""
        return await asyncio.shield(self._outcome)

    def _settle(self, event: TerminalEvent) -> None:
        if not self._outcome.done():
            self._outcome.set_result(event)


class EventStream:
    """An async iterator over the narrator's events, from the moment it was opened.

    A stream that falls more than ``maxsize`` events behind loses the oldest (``dropped`` counts
    them): a stalled listener must not make the engine hold unbounded memory.
    """

    def __init__(self, close: Callable[[EventStream], None], maxsize: int = 1000) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._maxsize = maxsize
        self._close = close
        self.dropped = 0

    def _push(self, event: Event | None) -> None:
        if self._queue.qsize() >= self._maxsize:
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        self._close(self)
        self._push(None)


class Narrator:
    """The engine: queue, single worker, audio output and providers behind one small API."""

    def __init__(
        self,
        *,
        output: AudioOutput,
        providers: ProviderRegistry,
        default_voice: VoiceRef,
        settings: WorkerSettings | None = None,
        warm: bool = True,
        cache: AudioCache | None = None,
    ) -> None:
        self._output = output
        self._cache = cache
        self._providers = providers
        self._default_voice = default_voice
        self._warm = warm
        self._queue = RequestQueue()
        self._ids = itertools.count(1)
        self._handles: dict[RequestId, RequestHandle] = {}
        self._listeners: list[EventListener] = []
        self._streams: list[EventStream] = []
        self._stats = StatsRecorder()
        self._worker = Worker(
            queue=self._queue,
            output=output,
            providers=providers,
            default_voice=lambda: self._default_voice,
            emit=self._emit,
            settings=settings,
            cache=cache,
        )
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the output and start the worker; the default voice warms up in the background."""
        if self._group is not None:
            return
        await self._output.open()
        group = asyncio.TaskGroup()
        await group.__aenter__()
        self._group = group
        self._tasks.append(group.create_task(self._worker.run()))
        if self._warm:
            voice = self._default_voice.provider
            self._tasks.append(
                group.create_task(
                    self._prepare("The default voice", lambda: self._providers.get(voice).warm())
                )
            )
            self._tasks.append(
                group.create_task(self._prepare("The text pipeline", self._worker.warm_text))
            )

    async def aclose(self) -> None:
        """Cancel everything queued and playing, stop every task, close output and providers."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        if self._group is not None:
            for task in self._tasks:
                task.cancel()
            await self._group.__aexit__(None, None, None)
            self._group = None
        try:
            await self._output.aclose()
        finally:
            await self._providers.aclose()
            if self._cache is not None:
                await self._cache.aclose()
            for stream in list(self._streams):
                stream.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- commands -----------------------------------------------------------------------------

    @property
    def default_voice(self) -> VoiceRef:
        return self._default_voice

    @default_voice.setter
    def default_voice(self, voice: VoiceRef) -> None:
        self._default_voice = voice

    def speak(self, request: SpeakRequest) -> RequestHandle:
        """Queue a request; with ``interrupt=True`` it also cuts off what plays now.

        Raises :class:`EmptyTextError` for text with nothing to say (nothing is queued).
        """
        if self._closed or self._group is None:
            raise RuntimeError("the narrator is not running")
        if request.text is not None and not request.text.strip():
            raise EmptyTextError()
        request_id = RequestId(next(self._ids))
        handle = RequestHandle(request_id, request)
        self._handles[request_id] = handle
        entry = QueueEntry(request_id, request, submitted_at=time.monotonic())
        self._queue.put(entry)
        self._emit(
            RequestQueued(request_id=request_id, label=request.label, priority=request.priority)
        )
        if request.interrupt:
            self._worker.cancel_current()
        return handle

    def cancel(self, request_id: RequestId) -> bool:
        """Cancel one request, queued or playing. False if it already ended."""
        entry = self._queue.remove(request_id)
        if entry is not None:
            self._emit(RequestCanceled(request_id=request_id))
            return True
        current = self._worker.current
        if current is not None and current.request_id == request_id:
            return self._worker.cancel_current()
        return False

    def stop(self) -> int:
        """ "Shut up": empty the queue and silence what plays. Returns how many were cancelled."""
        dropped = self._queue.clear()
        for entry in dropped:
            self._emit(RequestCanceled(request_id=entry.request_id))
        return len(dropped) + int(self._worker.cancel_current())

    def pause(self) -> None:
        self._output.pause()

    def resume(self) -> None:
        self._output.resume()

    @property
    def paused(self) -> bool:
        return self._output.paused

    def skip(self, unit: TextUnit = TextUnit.SENTENCE) -> bool:
        """Go on with the next sentence, paragraph or chapter of what plays now.

        By sentence the playback drops what is left of the segment being heard and plays the
        next from what is already synthesized (instant, nothing made twice); by paragraph or
        chapter speech starts over there. Skipping past the end finishes the request.
        """
        if unit is TextUnit.SENTENCE:
            return self._worker.skip()
        return self._worker.move(Move(MoveKind.SKIP, unit))

    def rewind(self, unit: TextUnit = TextUnit.SENTENCE) -> bool:
        """Back to the start of the current sentence (paragraph, chapter), or to the one before
        when it began less than two seconds ago. False when nothing plays."""
        return self._worker.move(Move(MoveKind.REWIND, unit))

    def jump_to(self, offset: int) -> bool:
        """Go on from the sentence holding ``offset`` (an offset of ``TextRead``/segments)."""
        return self._worker.move(Move(MoveKind.JUMP, offset=offset))

    def jump_to_chapter(self, index: int) -> bool:
        """Go on from the start of one of :meth:`chapters`."""
        if not 0 <= index < len(self._worker.chapters):
            return False
        return self._worker.move(Move(MoveKind.CHAPTER, index=index))

    def chapters(self) -> list[Chapter]:
        """The chapters of what plays now, as far as the reading has found them."""
        return self._worker.chapters

    def change_rate(self, rate: float) -> bool:
        """Speak the rest of what plays now at ``rate`` (from its current sentence); later
        requests carry their own rate. False when nothing plays."""
        if not 0.25 <= rate <= 4.0:
            raise ValueError(f"rate must be between 0.25 and 4.0, not {rate}")
        return self._worker.change_rate(rate)

    @property
    def volume(self) -> float:
        return self._output.volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._output.volume = value

    # -- observing ----------------------------------------------------------------------------

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` on the loop for every event; returns a function to remove it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def events(self) -> EventStream:
        """An async iterator of events from now on; ``close()`` it when done."""
        stream = EventStream(self._streams.remove)
        self._streams.append(stream)
        return stream

    def queue(self) -> list[QueuedItem]:
        """The playing request (if any) and the waiting ones, in play order."""
        items = []
        current = self._worker.current
        if current is not None:
            items.append(self._item(current, playing=True))
        items.extend(self._item(entry, playing=False) for entry in self._queue)
        return items

    def stats(self) -> StatsSnapshot:
        current = self._worker.current
        return self._stats.snapshot(
            queue_size=len(self._queue),
            current_request=current.request_id if current else None,
            current_label=current.request.label if current else None,
            worker_running=self._worker.running,
            output=self._output.counters(),
            providers=[
                provider.counters()
                for provider in self._providers.created()
                if isinstance(provider, ReportsCounters)
            ],
            cache_hits=self._cache.hits if self._cache is not None else 0,
            cache_misses=self._cache.misses if self._cache is not None else 0,
            voices=[provider.id for provider in self._providers.created()],
            breakers={
                name: BreakerView(breaker.state is not BreakerState.CLOSED, breaker.retry_in)
                for name, breaker in self._worker.breakers.items()
            },
        )

    def device_changed(self, device: str, reason: str) -> None:
        """The output reopened on another device; tell the listeners."""
        self._emit(OutputDeviceChanged(device=device, reason=reason))

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _item(entry: QueueEntry, *, playing: bool) -> QueuedItem:
        request = entry.request
        return QueuedItem(entry.request_id, request.label, request.priority, playing)

    async def _prepare(self, what: str, work: Callable[[], Awaitable[None]]) -> None:
        """Prepare something ahead of the first request, in the background."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the first request tries again and reports it properly
            _LOG.warning("%s could not be prepared: %s", what, exc)

    def _emit(self, event: Event) -> None:
        self._stats.observe(event)
        if isinstance(event, RequestFinished | RequestFailed | RequestCanceled):
            handle = self._handles.pop(event.request_id, None)
            if handle is not None:
                handle._settle(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOG.exception("An event listener failed on %s", type(event).__name__)
        for stream in self._streams:
            stream._push(event)
