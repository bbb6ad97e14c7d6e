"""Value types shared by every part of the engine.

They are frozen dataclasses so they can cross from the event loop to the audio thread and to
the UI without anyone mutating them under someone else's feet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from pathlib import Path
from typing import NewType

from .errors import ErrorCategory

RequestId = NewType("RequestId", int)

SAMPLE_WIDTH = 2
"""Bytes per sample. Every provider hands over signed 16-bit little-endian mono PCM."""


class Priority(IntEnum):
    """Lower value plays first; requests of the same priority play in the order they came."""

    HIGH = 0
    NORMAL = 1
    LOW = 2


@dataclass(frozen=True, slots=True)
class VoiceRef:
    """Which voice to speak with: a provider id and that provider's voice id.

    ``voice_id=None`` means the provider's default voice.
    """

    provider: str
    voice_id: str | None = None

    @classmethod
    def parse(cls, spec: str, default_provider: str = "piper") -> VoiceRef:
        """Parse ``"provider:voice"``, ``"provider:"`` or a bare ``"voice"``."""
        provider, sep, voice = spec.partition(":")
        if not sep:
            return cls(default_provider, spec or None)
        return cls(provider or default_provider, voice or None)

    def __str__(self) -> str:
        return f"{self.provider}:{self.voice_id or ''}"


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice a provider offers."""

    provider: str
    id: str
    name: str
    language: str
    sample_rate: int


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do; the segmenter and the scheduler plan around these."""

    max_chars: int
    """Longest segment text the provider accepts in one synthesis call."""
    max_concurrency: int
    """How many synthesis calls may run at once."""
    sample_rates: tuple[int, ...]
    """Rates the provider can produce (the first is its native one)."""
    alignment: bool = False
    """Whether chunks carry character timing."""
    streaming: bool = False
    """Whether audio of one segment arrives before the whole segment is synthesized."""
    rate_range: tuple[float, float] = (0.25, 4.0)
    """Speaking rates the voice reaches by itself; the rest is time-stretched afterwards (the
    cloud voice only speeds 0.7–1.2×, users listen at 0.5–2.5×)."""


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of speech: signed 16-bit little-endian mono PCM at ``sample_rate``."""

    pcm: bytes
    sample_rate: int
    spoken_chars: int | None = None
    """How many characters of the job's text the audio up to the end of this chunk covers, when
    the provider knows it (from its alignment): a dropped stream resumes from there."""

    @property
    def frames(self) -> int:
        return len(self.pcm) // SAMPLE_WIDTH

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


class SegmentKind(Enum):
    """How a segment was cut, which tells how long a pause after it is natural."""

    CLAUSE = "clause"  # the first clause, cut early so speech starts fast
    SENTENCE = "sentence"  # a whole sentence
    PART = "part"  # a piece of a sentence too long for one call (cut at a clause, word or hard)
    PARAGRAPH = "paragraph"  # the last sentence of a paragraph, heading, list item or the text

    @property
    def ends_sentence(self) -> bool:
        return self in (SegmentKind.SENTENCE, SegmentKind.PARAGRAPH)


class TextUnit(Enum):
    """What a transport command (skip, rewind) moves by."""

    SENTENCE = "sentence"
    PARAGRAPH = "paragraph"
    CHAPTER = "chapter"


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of text synthesized in one call.

    ``start`` and ``end`` are character offsets into the request's source text, so that
    ``source[start:end] == text``: the reading window highlights, and resume restarts, there.
    """

    index: int
    text: str
    start: int
    end: int
    kind: SegmentKind = SegmentKind.SENTENCE


@dataclass(frozen=True, slots=True)
class SpeakRequest:
    """What to say, how urgently, and with which voice. Exactly one of ``text`` and ``source``."""

    text: str | None = None
    source: Path | None = None
    priority: Priority = Priority.NORMAL
    voice: VoiceRef | None = None
    """``None``: the user's default voice."""
    interrupt: bool = False
    """Cancel what plays now and play this next ("read now")."""
    rate: float = 1.0
    """Speaking rate: 1.3 is 30 % faster, at the same pitch."""
    from_start: bool = False
    """Read a document from its beginning even if it was left part-way (no resume)."""

    def __post_init__(self) -> None:
        if (self.text is None) == (self.source is None):
            raise ValueError("a SpeakRequest has exactly one of text and source")
        if not 0.25 <= self.rate <= 4.0:
            raise ValueError(f"rate must be between 0.25 and 4.0, not {self.rate}")

    @property
    def label(self) -> str:
        """A short description for queues and notifications."""
        if self.source is not None:
            return self.source.name
        text = " ".join((self.text or "").split())
        return text if len(text) <= 60 else text[:57] + "…"


@dataclass(frozen=True, slots=True)
class SynthesisJob:
    """One call to a provider: a segment of a request, in a voice, at a rate.

    ``segment.start``/``end`` are source offsets, but ``segment.text`` is the text prepared for
    this provider (pronunciation rules, numbers in words…: ``text/prepare.py``), so a job's
    segment need not equal its source slice.
    """

    request_id: RequestId
    segment: Segment
    voice: VoiceRef
    rate: float = 1.0
    previous_text: str = ""
    """The text spoken just before, for providers that carry prosody across calls."""
    next_text: str = ""
    """The text that follows, when already known (same purpose)."""
    urgent: bool = False
    """Someone is waiting to hear this now (the first segment of a spoken request), as opposed
    to look-ahead or export; a cloud provider may pick its lowest-latency transport for it."""


class RequestState(Enum):
    QUEUED = "queued"
    PLAYING = "playing"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (RequestState.FINISHED, RequestState.FAILED, RequestState.CANCELED)


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of everything the engine tells its listeners. ``at`` is ``time.monotonic()``."""

    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestEvent(Event):
    request_id: RequestId


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestQueued(RequestEvent):
    label: str
    priority: Priority


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestStarted(RequestEvent):
    voice: VoiceRef
    length: int | None = None
    """Characters of the request's text when known before it is read (a text request); a
    document's length comes with :class:`TextEnded` once it has been read to its end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstAudio(RequestEvent):
    """The first non-silent sample of the request reached the sound card callback."""

    latency: float
    """Seconds from ``speak()`` to that sample."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentAudible(RequestEvent):
    """A segment started to come out of the speakers: the progress of a request."""

    segment_index: int
    start: int
    end: int
    text: str = ""
    """The segment's source text (``source[start:end]``), for captions and the reader window."""
    audio_offset: float | None = None
    """Seconds of the request's audio written to the output before this segment: its time in
    an exported file (exact there, where nothing is skipped; after a skip, live, the dropped
    audio still counts). ``None`` when not known."""
    duration: float | None = None
    """Seconds of the segment's speech, when all of it had arrived by the time it became
    audible (almost always: synthesis runs ahead): the reading window paces its word highlight
    with it. ``None`` for a segment still streaming in."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechProgress(RequestEvent):
    """Speech reached ``offset`` of the request's text, by the voice's own timing (ElevenLabs
    alignment): the reading window puts its word highlight there instead of estimating."""

    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TextRead(RequestEvent):
    """More of the request's text was read (live requests only): the reading window shows it.

    ``start`` is the offset of ``text`` in the request's text, the coordinates of segments'
    ``start``/``end``; after a rewind past what is kept, text may be read (and sent) again.
    """

    start: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TextEnded(RequestEvent):
    """The request's text has been read to its end: it is ``length`` characters long (what
    the progress of a document is measured against)."""

    length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChapterFound(RequestEvent):
    """A chapter mark was reached while reading the document (live requests only)."""

    index: int
    title: str
    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Repositioned(RequestEvent):
    """The listener moved (rewind, skip a paragraph, a chapter, a click in the reading window,
    a new speed): speech goes on from ``offset``."""

    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestWarning(RequestEvent):
    """Something about the request the user should know, though it still plays."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFinished(RequestEvent):
    """The last sample of the request left the callback."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFailed(RequestEvent):
    reason: str
    """A plain-language sentence for the user."""
    category: ErrorCategory

    @property
    def permanent(self) -> bool:
        """Whether trying the same request again cannot help."""
        return self.category.is_permanent


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCanceled(RequestEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class SynthesisRetried(RequestEvent):
    """A segment's synthesis failed in a way that may pass, and is tried again after ``delay``."""

    provider: str
    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderFellBack(RequestEvent):
    """The request goes on with another voice (the cloud failed): the user is told why."""

    from_provider: str
    to_provider: str
    reason: str


TerminalEvent = RequestFinished | RequestFailed | RequestCanceled


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputDeviceChanged(Event):
    """The output stream was reopened (the device went away, or another was chosen)."""

    device: str
    reason: str
