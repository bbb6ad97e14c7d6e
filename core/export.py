"""Narration to audio files: the one path that ``voxtray export`` and the tray's "Export file…"
both take.

An export, in order:

1. checks the target (its format, which must not contradict its name, and its folder), before
   anything is read or written;
2. reads a document once (``text/spool.py``): its text, its length and its chapters go to a
   private folder. Plain text files and literal text need none of that and are narrated as
   they are;
3. narrates with a narrator of its own (its own providers and output: a live narrator beside it
   keeps talking), one request per audio file: the whole text into one file, or, with
   ``split_chapters``, one file per chapter (``book-01 Title.mp3``, ``book-00 Opening.mp3`` for
   the text before the first chapter);
4. writes captions and the chapter list beside each audio file, from the times the segments
   start in it; where the voice aligns its audio with the text, a long sentence's caption is
   cut into shorter cues, each shown when the voice reaches it.

Progress is the fraction of the document's characters narrated and the seconds of audio
written. Whatever an export wrote is removed when it fails or is cancelled (plain asyncio
cancellation of the coroutine): an export is all or nothing, because a cut-off book looks like
a finished one in a file manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import tempfile
import threading
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .audio.output import OutputCounters, UtteranceOutput
from .audio.sinks import FORMATS, FileSink, folder_problem, resolve_format, write_problem
from .captions import CaptionEntry, chapter_list, chapter_times, cues, to_lrc, to_srt
from .engine import build_narrator, export_providers
from .errors import ExportTargetError, VoxTrayError
from .model import (
    AudioChunk,
    Event,
    RequestCanceled,
    RequestFailed,
    RequestId,
    RequestWarning,
    SegmentAudible,
    SpeakRequest,
    VoiceRef,
)
from .providers.registry import ProviderRegistry
from .settings import Settings
from .stats import save_snapshot
from .text.document import Chapter
from .text.readers import probe_document
from .text.spool import SpooledDocument, spool_document

__all__ = [
    "OPENING_TITLE",
    "CaptionKind",
    "ExportOptions",
    "ExportProgress",
    "ExportResult",
    "ExportTargetError",
    "audio_suffix",
    "chapter_file",
    "export_narration",
    "file_title",
]

CaptionKind = Literal["srt", "lrc"]
OPENING_TITLE = "Opening"
"""The title of the file that holds the text before a document's first chapter."""
SAMPLE_RATE = 22050
"""Exported audio's rate: the local voice's own, so its audio is written untouched."""
NO_CHAPTER_LIST = "the document has no chapters; no chapter list written."
NO_CHAPTER_FILES = "the document has no chapters; wrote one file."

_MAX_TITLE_CHARS = 80
_CAPTION_WRITERS: dict[str, Callable[[Iterable[CaptionEntry]], str]] = {
    "srt": to_srt,
    "lrc": to_lrc,
}
_UNSAFE_IN_NAMES = str.maketrans(
    {
        ":": " - ",  # "Chapter 1: Rain" reads well as "Chapter 1 - Rain"
        "/": "-",
        "\\": "-",
        "|": "-",
        '"': "'",
        "<": "",
        ">": "",
        "?": "",
        "*": "",
        **{chr(code): " " for code in (*range(0x20), 0x7F)},
    }
)
"""What Windows, macOS or Linux refuse in a file name (or shells make awkward), replaced."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Where the audio goes and what is written beside it."""

    target: Path
    """The audio file; with ``split_chapters``, the pattern of the chapter files' names."""
    format: str | None = None
    """``wav``, ``flac``, ``ogg``, ``mp3``…; ``None``: from the target's extension."""
    captions: tuple[CaptionKind, ...] = ()
    """Captions beside each audio file (``book.srt``, ``book.lrc``)."""
    chapter_list: bool = False
    """``book.chapters.txt``: each chapter's start time and title."""
    split_chapters: bool = False
    """One audio file per chapter instead of one for everything."""

    def __post_init__(self) -> None:
        if self.chapter_list and self.split_chapters:
            raise ValueError("a chapter list is for one file; split chapters are files already")


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """How far an export is."""

    fraction: float
    """Share of the source's characters narrated, 0 to 1 (1 only once everything is written)."""
    seconds: float
    """Seconds of audio written so far, across all files."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What a finished export wrote."""

    audio: tuple[Path, ...]
    """The audio files, in reading order."""
    files: tuple[Path, ...]
    """Every file written, in the order written: each audio file, then its captions."""
    seconds: float
    """Total length of the audio."""
    notes: tuple[str, ...] = ()
    """Things the user asked for that could not be done as asked (no chapters…)."""


def audio_suffix(options: ExportOptions) -> str:
    """The audio files' extension. Raises :class:`AudioError` for a format that cannot be
    written here, and :class:`ExportTargetError` for a format that contradicts the target's
    extension (MP3 data in ``book.wav`` plays nowhere): checked first, so a book is not read
    for an export that cannot happen."""
    target, asked = options.target, (options.format or "").lower().lstrip(".")
    chosen = resolve_format(target, options.format)
    named = FORMATS.get(target.suffix.lower())
    if asked and named is not None and named != chosen:
        raise ExportTargetError(
            f"The format {asked} does not match the file name {target.name}: "
            f"name it {target.stem}.{asked}, or choose the format {target.suffix[1:].lower()}."
        )
    if target.suffix:
        return target.suffix
    return "." + asked


def _check_folder(options: ExportOptions) -> None:
    """Fail before a word is synthesized where the audio cannot go (blocking)."""
    target = options.target
    problem = folder_problem(target.parent) if options.split_chapters else write_problem(target)
    if problem is not None:
        raise ExportTargetError(f"Cannot export to {target.name}: {problem}.")


def file_title(title: str, fallback: str) -> str:
    """``title`` made safe as part of a file name on every system; ``fallback`` if none is
    left. Long titles are cut at a word, to leave room for the folder's own path."""
    text = " ".join(unicodedata.normalize("NFC", title).translate(_UNSAFE_IN_NAMES).split())
    if len(text) > _MAX_TITLE_CHARS:
        text = text[:_MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    text = text.strip(" .-")  # Windows drops a trailing dot or space: the names would clash
    return text or fallback


def chapter_file(target: Path, suffix: str, number: int, width: int, title: str | None) -> Path:
    """The audio file of chapter ``number`` (0: the opening), next to ``target``."""
    stem = target.stem if target.suffix else target.name
    name = OPENING_TITLE if title is None else file_title(title, f"Chapter {number}")
    return target.with_name(f"{stem}-{number:0{width}d} {name}{suffix}")


async def export_narration(
    request: SpeakRequest,
    options: ExportOptions,
    *,
    settings: Settings,
    voice: VoiceRef | None = None,
    providers: ProviderRegistry | None = None,
    on_progress: Callable[[ExportProgress], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    stats_file: Path | None = None,
) -> ExportResult:
    """Narrate ``request`` (text or a document) into ``options.target``; see the module doc.

    ``voice`` is the voice for a request that names none (default: the settings' voice);
    ``providers`` default to :func:`~.engine.export_providers`, and are closed at the end.
    ``on_progress`` and ``on_warning`` are called on the event loop. ``stats_file`` receives
    the export narrator's statistics (``voxtray stats``). Raises :class:`VoxTrayError` with a
    sentence for the user: the input's errors (``INPUT`` category) before any file is written.
    """
    suffix = audio_suffix(options)
    await asyncio.to_thread(_check_folder, options)
    with tempfile.TemporaryDirectory(prefix="voxtray-export-") as folder:
        plan = await _plan(request, options, suffix, Path(folder), on_warning)
        run = _Run(plan, options, _Progress(plan.length, on_progress))
        try:
            await run.narrate(
                settings,
                voice,
                providers or export_providers(settings),
                on_warning,
                stats_file,
                options.format or suffix,
            )
        except BaseException:
            await asyncio.to_thread(_remove, run.written)
            raise
    run.progress.done(run.seconds)
    return ExportResult(
        audio=tuple(job.target for job in plan.jobs),
        files=tuple(run.written),
        seconds=run.seconds,
        notes=tuple(run.notes),
    )


# -- planning: what goes into which file -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    """One request narrated into one audio file."""

    request: SpeakRequest
    target: Path
    start: int
    """Offset of the request's text in the whole source text (progress, chapter marks)."""


@dataclass(frozen=True, slots=True)
class _Plan:
    jobs: tuple[_Job, ...]
    length: int
    """Characters of the whole source (for a plain text file: its size in bytes, near enough)."""
    chapters: tuple[Chapter, ...] = ()
    notes: tuple[str, ...] = ()


async def _plan(
    request: SpeakRequest,
    options: ExportOptions,
    suffix: str,
    folder: Path,
    on_warning: Callable[[str], None] | None,
) -> _Plan:
    split_note = (NO_CHAPTER_FILES,) if options.split_chapters else ()
    whole = (_Job(request, options.target, 0),)
    source = request.source
    if source is None:
        return _Plan(whole, len(request.text or ""), notes=split_note)
    if await asyncio.to_thread(probe_document, source) == "txt":  # text has no chapters
        return _Plan(whole, await asyncio.to_thread(_size, source), notes=split_note)
    document = await _read(source, folder, split=options.split_chapters, on_warning=on_warning)
    parts = document.parts
    if not options.split_chapters or all(part.title is None for part in parts):
        (part,) = parts  # unsplit, there is one part: the whole text
        job = _Job(replace(request, source=part.path), options.target, part.start)
        return _Plan((job,), document.length, document.chapters, split_note)
    width = max(2, len(str(len(parts))))
    numbered = enumerate(parts, start=0 if parts[0].title is None else 1)
    jobs = tuple(
        _Job(
            replace(request, source=part.path),
            chapter_file(options.target, suffix, number, width, part.title),
            part.start,
        )
        for number, part in numbered
    )
    return _Plan(jobs, document.length, document.chapters)


async def _read(
    source: Path, folder: Path, *, split: bool, on_warning: Callable[[str], None] | None
) -> SpooledDocument:
    """The one reading of a document, in a thread; cancelling it stops the reader too."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    def warn(message: str) -> None:  # on the reader's thread
        if on_warning is not None:
            loop.call_soon_threadsafe(on_warning, message)

    reading = loop.run_in_executor(
        None,
        functools.partial(spool_document, source, folder, split=split, on_warning=warn, stop=stop),
    )
    try:
        return await asyncio.shield(reading)
    except asyncio.CancelledError:
        stop.set()
        # It stops at its next piece of text; it must not go on writing into a folder that
        # is about to be removed.
        await asyncio.gather(reading, return_exceptions=True)
        raise


def _size(path: Path) -> int:
    return max(1, path.stat().st_size)


# -- narrating --------------------------------------------------------------------------------


class _Progress:
    def __init__(self, total: int, report: Callable[[ExportProgress], None] | None) -> None:
        self._total = max(1, total)
        self._report = report

    def at(self, chars: int, seconds: float) -> None:
        if self._report is not None:
            self._report(ExportProgress(min(0.99, chars / self._total), seconds))

    def done(self, seconds: float) -> None:
        if self._report is not None:
            self._report(ExportProgress(1.0, seconds))


class _Timing:
    """Where each segment of one request starts in its audio file (``SegmentAudible``), and
    what the voice's alignment says of the words inside it (the chunks on their way in)."""

    def __init__(self) -> None:
        self.segments: list[tuple[int, int, float]] = []
        """``(source_start, source_end, audio_start)`` in reading order."""
        self._texts: list[str] = []
        self._aligned: list[tuple[float, float, int]] = []
        """``(chunk_start, chunk_end, spoken_chars)`` in seconds of the file, of every chunk
        that came with alignment, in order."""
        self._written = 0.0

    def add(self, event: SegmentAudible) -> None:
        if event.audio_offset is None:
            return
        self.segments.append((event.start, event.end, event.audio_offset))
        self._texts.append(event.text)

    def wrote(self, chunk: AudioChunk) -> None:
        """Counted as the playback counts ``audio_offset``: the same durations, in the same
        order, so a chunk's time is comparable with the segments' exactly."""
        start = self._written
        self._written += chunk.duration
        if chunk.spoken_chars is not None:
            self._aligned.append((start, self._written, chunk.spoken_chars))

    def entries(self, duration: float) -> list[CaptionEntry]:
        """Captions ending where the next begins (the last: the file's end): one per segment,
        or, where the voice aligned a long one, one per line of it (:func:`~.captions.cues`)."""
        starts = [at for _start, _end, at in self.segments]
        ends = [*starts[1:], max(duration, starts[-1])] if starts else []
        entries: list[CaptionEntry] = []
        bounds = [*starts[1:], math.inf]  # a chunk belongs to the segment it starts in
        chunks = iter(self._aligned)
        pending = next(chunks, None)
        for start, end, bound, text in zip(starts, ends, bounds, self._texts, strict=True):
            alignment: list[tuple[int, float]] = []
            while pending is not None and pending[0] < bound:
                chunk_start, chunk_end, spoken = pending
                if chunk_start >= start:
                    alignment.append((spoken, chunk_end))
                pending = next(chunks, None)
            entries.extend(cues(start, end, text, alignment))
        return entries


@dataclass(slots=True)
class _Run:
    """One export's narration: the files it wrote so far, and their length."""

    plan: _Plan
    options: ExportOptions
    progress: _Progress
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    _request: RequestId | None = None
    _job: _Job | None = None
    _timing: _Timing = field(default_factory=_Timing)

    async def narrate(
        self,
        settings: Settings,
        voice: VoiceRef | None,
        providers: ProviderRegistry,
        on_warning: Callable[[str], None] | None,
        stats_file: Path | None,
        format: str,
    ) -> None:
        self.notes.extend(self.plan.notes)
        # Looked up at each chunk: every file has a timing of its own.
        output = _FileSequence(
            SAMPLE_RATE, format, on_chunk=lambda chunk: self._timing.wrote(chunk)
        )
        narrator = build_narrator(
            settings, output=output, voice=voice, interactive=False, providers=providers
        )

        def listen(event: Event) -> None:
            if isinstance(event, RequestWarning) and on_warning is not None:
                on_warning(event.message)
            elif isinstance(event, SegmentAudible) and event.request_id == self._request:
                self._segment(event)

        remove_listener = narrator.add_listener(listen)
        try:
            await narrator.start()
            for job in self.plan.jobs:
                await self._create(job.target, functools.partial(output.begin, job.target))
                self._job, self._timing = job, _Timing()
                handle = narrator.speak(job.request)
                self._request = handle.request_id
                outcome = await handle.wait()
                if isinstance(outcome, RequestFailed):
                    raise VoxTrayError(outcome.reason, category=outcome.category)
                if isinstance(outcome, RequestCanceled):  # nobody but this export cancels
                    raise VoxTrayError("The export was stopped before its end.")
                duration = await output.end_file()
                await self._side_files(job, duration)
                self.seconds += duration
        finally:
            remove_listener()
            if stats_file is not None:
                with contextlib.suppress(OSError):
                    save_snapshot(narrator.stats(), stats_file)
            await narrator.aclose()

    def _segment(self, event: SegmentAudible) -> None:
        assert self._job is not None
        self._timing.add(event)
        self.progress.at(self._job.start + event.end, self.seconds + (event.audio_offset or 0.0))

    async def _side_files(self, job: _Job, duration: float) -> None:
        texts: list[tuple[Path, str]] = [
            (
                job.target.with_suffix(f".{kind}"),
                _CAPTION_WRITERS[kind](self._timing.entries(duration)),
            )
            for kind in dict.fromkeys(self.options.captions)  # once each, in the order given
        ]
        if self.options.chapter_list:
            marks = [(chapter.title, chapter.offset) for chapter in self.plan.chapters]
            placed = chapter_times(marks, self._timing.segments)
            if placed:
                texts.append((job.target.with_suffix(".chapters.txt"), chapter_list(placed)))
            else:
                self.notes.append(NO_CHAPTER_LIST)
        for path, text in texts:
            await self._create(path, functools.partial(asyncio.to_thread, _write_text, path, text))

    async def _create(self, path: Path, create: Callable[[], Awaitable[object]]) -> None:
        """Await ``create`` (which writes ``path``) and count the file among this export's.

        A new file counts from the start, so that one left half-made by a failure or a cancel
        is removed; a file that was there before counts only once written, so that failing to
        open it (read-only) never deletes what the user had.
        """
        fresh = not await asyncio.to_thread(path.exists)
        if fresh:
            self.written.append(path)
        await create()
        if not fresh:
            self.written.append(path)


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise VoxTrayError(f"Cannot write {path}: {error.strerror or error}.") from error


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


class _FileSequence:
    """An :class:`~.audio.output.AudioOutput` that writes each request into a file of its own.

    The export opens the next file (:meth:`begin`) before it queues the request that fills it,
    and closes it (:meth:`end_file`) once that request has finished, so a narrator that speaks
    one request at a time writes one file per request. An export is never paused.
    """

    device = "files"

    def __init__(
        self, sample_rate: int, format: str, *, on_chunk: Callable[[AudioChunk], None]
    ) -> None:
        """``on_chunk`` sees every chunk on its way into the current file."""
        self.volume = 1.0
        self._rate = sample_rate
        self._format = format
        self._on_chunk = on_chunk
        self._sink: FileSink | None = None
        self._frames_before = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def paused(self) -> bool:
        return False

    async def open(self) -> None:
        return None

    async def begin(self, path: Path) -> None:
        await self.end_file()
        sink = FileSink(path, sample_rate=self._rate, format=self._format)
        await sink.open()
        self._sink = sink

    async def end_file(self) -> float:
        """Close the current file; the seconds of audio it holds."""
        sink, self._sink = self._sink, None
        if sink is None:
            return 0.0
        frames = sink.counters().frames_played
        self._frames_before += frames
        await sink.aclose()
        return frames / self._rate

    def start_utterance(self) -> UtteranceOutput:
        if self._sink is None:
            raise RuntimeError("begin() a file before the request that fills it")
        return _NotedUtterance(self._sink.start_utterance(), self._on_chunk)

    def pause(self) -> None:
        return None

    def resume(self) -> None:
        return None

    def counters(self) -> OutputCounters:
        current = self._sink.counters().frames_played if self._sink is not None else 0
        return OutputCounters(
            underruns=0,
            gap_seconds=0.0,
            frames_played=self._frames_before + current,
            device=self.device,
            sample_rate=self._rate,
            latency=0.0,
        )

    async def aclose(self) -> None:
        await self.end_file()


class _NotedUtterance:
    """An utterance that shows each chunk to ``on_chunk`` before writing it: the chunks carry
    the voice's alignment, which the playback reads for live progress only."""

    def __init__(self, inner: UtteranceOutput, on_chunk: Callable[[AudioChunk], None]) -> None:
        self._inner = inner
        self._on_chunk = on_chunk

    @property
    def first_sound(self) -> asyncio.Future[float]:
        return self._inner.first_sound

    @property
    def finished(self) -> asyncio.Future[float]:
        return self._inner.finished

    async def write(self, chunk: AudioChunk) -> None:
        self._on_chunk(chunk)
        await self._inner.write(chunk)

    def mark(self) -> asyncio.Future[float]:
        return self._inner.mark()

    def end(self) -> None:
        self._inner.end()

    def discard(self) -> None:
        self._inner.discard()
