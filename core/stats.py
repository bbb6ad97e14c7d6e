"""The engine's statistics: request counts, time to first audio, what the output did.

A :class:`StatsRecorder` listens to the engine's events (:meth:`~StatsRecorder.observe`) and,
when asked, combines what it counted with what only the caller knows at that moment — the queue
length, the request playing, the output stream's counters — into an immutable
:class:`StatsSnapshot` (:meth:`~StatsRecorder.snapshot`). The stats window pulls snapshots on a
timer; the CLI saves the last one at exit (:func:`save_snapshot`) and prints it later
(:func:`load_snapshot`).

**Threads.** ``observe`` and ``snapshot`` are called on the event loop only, so the recorder has
no lock. The audio callback never touches it: its counters (underruns, frames played) live in
the output stream and are read here, on the loop, at snapshot time.

**Each request is counted once.** A request enters the books at its first event (normally
``RequestQueued``) and leaves them at its first terminal event. Anything after that for the
same request — a second terminal event from a buggy emitter, a late first-audio — is ignored,
so ``successful + failed + canceled`` never exceeds ``total`` and no request is counted twice.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import monotonic, time
from typing import Any, Protocol

from .errors import VoxTrayError
from .model import (
    Event,
    FirstAudio,
    ProviderFellBack,
    Repositioned,
    RequestCanceled,
    RequestEvent,
    RequestFailed,
    RequestFinished,
    RequestId,
    RequestStarted,
    RequestWarning,
    SegmentAudible,
    SpeechProgress,
    SynthesisRetried,
    TextEnded,
)
from .paths import atomic_write
from .providers.base import ProviderCounters

LATENCY_WINDOW = 1000
"""First-audio latencies the percentiles are computed over: the most recent ones.

A window rather than the whole session, because the figure should describe how the app
behaves *now* — after the network changed, the voice was switched or the machine woke up — not
be held down by a morning's worth of old samples. A thousand keeps p95 meaningful (fifty samples
lie above it) while memory and the sort at each snapshot stay small and constant; an exact
window needs no histogram buckets whose bounds would have to be guessed.
"""

RECENT_LATENCIES = 50
"""How many of the latest latencies a snapshot carries, for the stats window's sparkline."""

_ENDED_MEMORY = 4096
"""How many ended requests are remembered to ignore their stragglers (bounded: ids are ints)."""


class OutputCountersLike(Protocol):
    """What the stats need of the output stream's counters (``audio.output.OutputCounters``).

    A protocol rather than an import so that stats does not depend on the audio package.
    """

    @property
    def underruns(self) -> int: ...

    @property
    def gap_seconds(self) -> float: ...

    @property
    def frames_played(self) -> int: ...

    @property
    def device(self) -> str: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def latency(self) -> float: ...


def percentile(samples: Iterable[float], percent: int) -> float | None:
    """The nearest-rank percentile: the smallest sample that ``percent`` % of them do not exceed.

    Nearest rank rather than interpolation so that the figure is always a latency that really
    happened, and p95 of a handful of samples is simply the worst one. ``None`` for no samples.
    """
    return _nearest_rank(sorted(samples), percent)


def _nearest_rank(ordered: Sequence[float], percent: int) -> float | None:
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be between 0 and 100, not {percent}")
    if not ordered:
        return None
    rank = -(-percent * len(ordered) // 100)  # ceil in integers: no float rounding at the edges
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Time to first audio, in seconds. ``None`` where there is no sample yet."""

    last: float | None = None
    p50: float | None = None
    p95: float | None = None
    count: int = 0
    """Samples since the recorder started (the percentiles use the last ``LATENCY_WINDOW``)."""


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """The output stream as it is open now."""

    device: str
    sample_rate: int
    latency: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsSnapshot:
    """The statistics at one moment. Durations are in seconds."""

    total_requests: int = 0
    successful_requests: int = 0
    failed_requests: int = 0
    canceled_requests: int = 0
    rate_limit_errors: int = 0
    queue_size: int = 0
    current_request: RequestId | None = None
    current_label: str | None = None
    worker_running: bool = False
    segments_played: int = 0
    characters_spoken: int = 0
    """Characters of the segments that became audible."""
    time_to_first_audio: LatencySummary = field(default_factory=LatencySummary)
    recent_first_audio: tuple[float, ...] = ()
    """The latest first-audio latencies, oldest first."""
    underruns: int = 0
    gap_seconds: float = 0.0
    frames_played: int = 0
    output: OutputInfo | None = None
    """``None`` when no output stream is open."""
    uptime_seconds: float = 0.0
    warnings: int = 0
    """``RequestWarning`` events seen."""
    taken_at: float = 0.0
    """Wall-clock time of the snapshot (Unix seconds), so a saved one can say how old it is."""
    retries: int = 0
    """Segments tried again after a transient failure or a rate limit."""
    output_suspended: bool = False
    """The output stream is stopped for being idle (it costs no CPU until the next request)."""
    cache_hits: int = 0
    """Segments played from the audio cache: no request, nothing billed."""
    cache_misses: int = 0
    fallbacks: int = 0
    """Requests that went on with the fallback voice."""
    last_fallback_reason: str | None = None
    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each reporting provider's own figures (characters billed, 429s by kind, connections…)."""
    current_progress: float | None = None
    """How far the current request has been heard, 0 to 1, by characters of its text; ``None``
    while nothing plays or the text's length is not known yet (a document not read to its
    end)."""
    provider_health: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each voice in use: ``state`` ("working", "failing", "trying again"), ``retry_in``
    seconds while failing, and the ``last_error`` it gave, if any."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: nested dicts, lists, numbers, strings, ``None``."""
        data = asdict(self)
        data["recent_first_audio"] = list(self.recent_first_audio)
        data["providers"] = {name: dict(figures) for name, figures in self.providers.items()}
        data["provider_health"] = {
            name: dict(health) for name, health in self.provider_health.items()
        }
        return data

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatsSnapshot:
        """The inverse of :meth:`as_dict`.

        Unknown keys are ignored and missing ones take their defaults, so a file written by
        another version of VoxTray still loads. A value of the wrong type raises ValueError.
        """
        reader = _Reader(data)
        latency = _Reader(reader.table("time_to_first_audio"))
        output_data = reader.optional_table("output")
        current = reader.optional_whole("current_request")
        return cls(
            total_requests=reader.whole("total_requests"),
            successful_requests=reader.whole("successful_requests"),
            failed_requests=reader.whole("failed_requests"),
            canceled_requests=reader.whole("canceled_requests"),
            rate_limit_errors=reader.whole("rate_limit_errors"),
            queue_size=reader.whole("queue_size"),
            current_request=None if current is None else RequestId(current),
            current_label=reader.optional_text("current_label"),
            worker_running=reader.flag("worker_running"),
            segments_played=reader.whole("segments_played"),
            characters_spoken=reader.whole("characters_spoken"),
            time_to_first_audio=LatencySummary(
                last=latency.optional_number("last"),
                p50=latency.optional_number("p50"),
                p95=latency.optional_number("p95"),
                count=latency.whole("count"),
            ),
            recent_first_audio=reader.numbers("recent_first_audio"),
            underruns=reader.whole("underruns"),
            gap_seconds=reader.number("gap_seconds"),
            frames_played=reader.whole("frames_played"),
            output=None if output_data is None else _output_info(_Reader(output_data)),
            uptime_seconds=reader.number("uptime_seconds"),
            warnings=reader.whole("warnings"),
            taken_at=reader.number("taken_at"),
            retries=reader.whole("retries"),
            output_suspended=reader.flag("output_suspended"),
            cache_hits=reader.whole("cache_hits"),
            cache_misses=reader.whole("cache_misses"),
            fallbacks=reader.whole("fallbacks"),
            last_fallback_reason=reader.optional_text("last_fallback_reason"),
            providers=_tables(reader.optional_table("providers")),
            current_progress=reader.optional_number("current_progress"),
            provider_health=_tables(reader.optional_table("provider_health")),
        )

    @classmethod
    def from_json(cls, text: str) -> StatsSnapshot:
        """Parse :meth:`to_json` output; raises ValueError if it is not a snapshot."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a stats snapshot is a JSON object")
        return cls.from_dict(data)


def _tables(data: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {str(k): dict(v) for k, v in (data or {}).items() if isinstance(v, Mapping)}


@dataclass(frozen=True, slots=True)
class BreakerView:
    """What the stats need of a provider's circuit breaker (``limits.CircuitBreaker``)."""

    open: bool
    retry_in: float | None


@dataclass(slots=True)
class _Live:
    """What the recorder needs to know of a request that has not ended."""

    length: int | None = None
    """Characters of its text, once known."""
    position: int = 0
    """Where in its text the listener is: the segment or word heard last."""

    heard: bool = False
    """A first-audio latency was recorded (a second one is ignored)."""
    last_segment: int = -1
    """Segments play in order, so one whose index is not past this was already counted."""


class StatsRecorder:
    """Counts engine events; see the module docstring. Event loop only: not thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = monotonic,
        wall_clock: Callable[[], float] = time,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._started = clock()
        self._total = 0
        self._successful = 0
        self._failed = 0
        self._canceled = 0
        self._retries = 0
        self._fallbacks = 0
        self._last_fallback_reason: str | None = None
        self._segments = 0
        self._characters = 0
        self._warnings = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._latency_count = 0
        self._live: dict[RequestId, _Live] = {}
        self._ended: set[RequestId] = set()
        self._ended_order: deque[RequestId] = deque()
        self._last_errors: dict[str, str] = {}

    def observe(self, event: Event) -> None:
        """Account for one engine event. Events the stats do not use are ignored."""
        if isinstance(event, SynthesisRetried):
            self._retries += 1
            self._last_errors[event.provider] = event.reason
        elif isinstance(event, ProviderFellBack):
            self._fallbacks += 1
            self._last_fallback_reason = event.reason
            self._last_errors[event.from_provider] = event.reason
        if isinstance(event, RequestEvent):
            self._observe_request(event)

    def snapshot(
        self,
        *,
        queue_size: int,
        current_request: RequestId | None,
        current_label: str | None,
        worker_running: bool,
        output: OutputCountersLike | None,
        providers: Sequence[ProviderCounters] = (),
        cache_hits: int = 0,
        cache_misses: int = 0,
        voices: Iterable[str] = (),
        breakers: Mapping[str, BreakerView] | None = None,
    ) -> StatsSnapshot:
        """The statistics now, with what the caller knows of the queue, worker and output.

        ``voices`` are the providers in use and ``breakers`` the state of those that failed:
        together they make :attr:`StatsSnapshot.provider_health`.
        """
        ordered = sorted(self._latencies)
        recent = tuple(self._latencies)[-RECENT_LATENCIES:]
        return StatsSnapshot(
            total_requests=self._total,
            successful_requests=self._successful,
            failed_requests=self._failed,
            canceled_requests=self._canceled,
            rate_limit_errors=sum(sum(p.rate_limited.values()) for p in providers),
            queue_size=queue_size,
            current_request=current_request,
            current_label=current_label,
            worker_running=worker_running,
            segments_played=self._segments,
            characters_spoken=self._characters,
            time_to_first_audio=LatencySummary(
                last=self._latencies[-1] if self._latencies else None,
                p50=_nearest_rank(ordered, 50),
                p95=_nearest_rank(ordered, 95),
                count=self._latency_count,
            ),
            recent_first_audio=recent,
            underruns=0 if output is None else output.underruns,
            gap_seconds=0.0 if output is None else output.gap_seconds,
            frames_played=0 if output is None else output.frames_played,
            output=None
            if output is None
            else OutputInfo(output.device, output.sample_rate, output.latency),
            uptime_seconds=self._clock() - self._started,
            warnings=self._warnings,
            retries=self._retries,
            output_suspended=bool(getattr(output, "suspended", False)),
            cache_hits=cache_hits,
            cache_misses=cache_misses,
            fallbacks=self._fallbacks,
            last_fallback_reason=self._last_fallback_reason,
            providers={p.provider: _provider_figures(p) for p in providers},
            taken_at=self._wall_clock(),
            current_progress=self._progress(current_request),
            provider_health=self._health(voices, breakers or {}),
        )

    def _progress(self, request_id: RequestId | None) -> float | None:
        live = self._live.get(request_id) if request_id is not None else None
        if live is None or not live.length:
            return None
        return min(max(live.position / live.length, 0.0), 1.0)

    def _health(
        self, voices: Iterable[str], breakers: Mapping[str, BreakerView]
    ) -> dict[str, dict[str, Any]]:
        health: dict[str, dict[str, Any]] = {}
        for name in sorted({*voices, *breakers}):
            breaker = breakers.get(name)
            if breaker is None or not breaker.open:
                state = "working"
            else:
                state = "failing" if breaker.retry_in else "trying again"
            figures: dict[str, Any] = {"state": state}
            if breaker is not None and breaker.open and breaker.retry_in:
                figures["retry_in"] = round(breaker.retry_in, 1)
            if name in self._last_errors:
                figures["last_error"] = self._last_errors[name]
            health[name] = figures
        return health

    def _observe_request(self, event: RequestEvent) -> None:
        request_id = event.request_id
        if request_id in self._ended:
            return  # a second terminal event or a straggler: this request is already counted
        live = self._live.get(request_id)
        if live is None:
            live = self._live[request_id] = _Live()
            self._total += 1
        match event:
            case FirstAudio(latency=latency) if not live.heard:
                live.heard = True
                self._latencies.append(latency)
                self._latency_count += 1
            case SegmentAudible(segment_index=index) if index > live.last_segment:
                live.last_segment = index
                live.position = event.start
                self._segments += 1
                self._characters += max(event.end - event.start, 0)
            case SegmentAudible():  # heard again after a move back
                live.position = event.start
            case RequestStarted(length=length):
                live.length = length
            case TextEnded(length=length):
                live.length = length
            case SpeechProgress(offset=offset) | Repositioned(offset=offset):
                live.position = offset
            case RequestWarning():
                self._warnings += 1
            case RequestFinished():
                self._successful += 1
                self._end(request_id)
            case RequestFailed():
                self._failed += 1
                self._end(request_id)
            case RequestCanceled():
                self._canceled += 1
                self._end(request_id)
            case _:
                pass  # RequestQueued, RequestStarted: being on the books is all they change

    def _end(self, request_id: RequestId) -> None:
        del self._live[request_id]
        self._ended.add(request_id)
        self._ended_order.append(request_id)
        if len(self._ended_order) > _ENDED_MEMORY:
            self._ended.discard(self._ended_order.popleft())


def _provider_figures(counters: ProviderCounters) -> dict[str, Any]:
    recent = counters.first_byte_seconds
    quota = counters.quota
    ordered = sorted(recent)
    return {
        "requests": counters.requests,
        "characters_billed": counters.characters_billed,
        "rate_limited": dict(counters.rate_limited),
        "connections_opened": counters.connections_opened,
        "connections_reused": counters.connections_reused,
        "first_byte_p50": _nearest_rank(ordered, 50),
        "first_byte_p95": _nearest_rank(ordered, 95),
        "concurrency_limit": counters.concurrency_limit,
        "quota": None
        if quota is None
        else {
            "used": quota.used,
            "limit": quota.limit,
            "resets_at": quota.resets_at,
        },
    }


def save_snapshot(snapshot: StatsSnapshot, path: Path) -> None:
    """Write ``snapshot`` as JSON, atomically (``0600``, directory ``0700``).

    Raises :class:`~.errors.VoxTrayError` if the file cannot be written.
    """
    try:
        atomic_write(path, (snapshot.to_json() + "\n").encode("utf-8"))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise VoxTrayError(f"The statistics could not be saved to {path} ({reason}).") from exc


def load_snapshot(path: Path) -> StatsSnapshot | None:
    """The snapshot saved in ``path``, or ``None`` if there is none yet.

    Raises :class:`~.errors.VoxTrayError` if the file exists but cannot be read as a snapshot.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise VoxTrayError(f"The statistics saved in {path} cannot be read ({exc}).") from exc
    try:
        return StatsSnapshot.from_json(text)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise VoxTrayError(f"The statistics saved in {path} are damaged ({exc}).") from exc


def _output_info(reader: _Reader) -> OutputInfo:
    return OutputInfo(
        device=reader.text("device"),
        sample_rate=reader.whole("sample_rate"),
        latency=reader.number("latency"),
    )


class _Reader:
    """Typed access to a JSON object, with defaults for missing keys (see ``from_dict``)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def _get(self, key: str, kinds: tuple[type, ...], default: Any, what: str) -> Any:
        value = self._data.get(key, default)
        if value is None and default is None:
            return None
        # bool is an int to Python, not to us: true is no count and 1 is no flag.
        if isinstance(value, bool) is not (bool in kinds) or not isinstance(value, kinds):
            raise ValueError(f"{key} should be {what}, not {value!r}")
        return value

    def whole(self, key: str) -> int:
        value: int = self._get(key, (int,), 0, "a whole number")
        return value

    def optional_whole(self, key: str) -> int | None:
        value: int | None = self._get(key, (int,), None, "a whole number or null")
        return value

    def number(self, key: str) -> float:
        return float(self._get(key, (int, float), 0.0, "a number"))

    def optional_number(self, key: str) -> float | None:
        value = self._get(key, (int, float), None, "a number or null")
        return None if value is None else float(value)

    def flag(self, key: str) -> bool:
        value: bool = self._get(key, (bool,), False, "true or false")
        return value

    def text(self, key: str) -> str:
        value: str = self._get(key, (str,), "", "a string")
        return value

    def optional_text(self, key: str) -> str | None:
        value: str | None = self._get(key, (str,), None, "a string or null")
        return value

    def numbers(self, key: str) -> tuple[float, ...]:
        values = self._get(key, (list,), [], "a list of numbers")
        return tuple(_Reader({key: value}).number(key) for value in values)

    def table(self, key: str) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self._get(key, (dict,), {}, "an object")
        return value

    def optional_table(self, key: str) -> Mapping[str, Any] | None:
        value: Mapping[str, Any] | None = self._get(key, (dict,), None, "an object or null")
        return value
