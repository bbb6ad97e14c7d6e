"""Outputs that are not a sound card: export to a file, and a null sink for benchmarks.

Both implement :class:`~.output.AudioOutput`, so the worker drives them exactly like the
player. They run as fast as audio arrives (no clock): ``first_sound`` resolves when the first
audible sample was written, marks when everything before them was written, ``finished`` when
the utterance's tail is written and flushed. Pause only holds writers back; the volume is kept
for the protocol's sake but not applied — an export should not depend on a UI slider.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import soundfile as sf

from ..errors import AudioError
from ..model import AudioChunk
from .output import OutputCounters, clamp_volume, first_audible
from .resample import StreamResampler

Frames = npt.NDArray[np.float32]
_T = TypeVar("_T")

FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
"""File extension → (libsndfile major format, subtype)."""


def supported_formats() -> dict[str, tuple[str, str]]:
    """The entries of :data:`FORMATS` this libsndfile can write (MP3 needs ≥ 1.1, Opus ≥ 1.0.29)."""
    return {
        ext: (fmt, subtype)
        for ext, (fmt, subtype) in FORMATS.items()
        if fmt in sf.available_formats() and subtype in sf.available_subtypes(fmt)
    }


def resolve_format(path: Path, format: str | None = None) -> tuple[str, str]:
    """Pick (format, subtype) from ``format`` (an extension or a libsndfile name) or the path."""
    key = (format or path.suffix).lower()
    if not key.startswith("."):
        key = "." + key
    choice = FORMATS.get(key)
    if choice is None:
        names = ", ".join(sorted(ext.lstrip(".") for ext in supported_formats()))
        raise AudioError(
            f"Cannot export to {key.lstrip('.') or 'a file without extension'}: "
            f"choose one of {names}."
        )
    if choice not in supported_formats().values():
        needed = "1.0.29" if choice[1] == "OPUS" else "1.1"  # the only two that may lack
        raise AudioError(
            f"This system's audio file library (libsndfile {sf.__libsndfile_version__}) "
            f"cannot write {key.lstrip('.')} files; they need version {needed} or newer."
        )
    return choice


def folder_problem(folder: Path) -> str | None:
    """Why no file can be created in ``folder``, as the end of a sentence; None if none is
    known. Blocking: a few file-system calls."""
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    return None


def write_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written (its folder, or the path itself), as the end of a
    sentence; None if none is known. Blocking: a few file-system calls."""
    problem = folder_problem(path.parent)
    if problem is not None:
        return problem
    if path.is_dir():
        return f"{path.name} is a folder"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path.name} is read-only"
    return None


def _write_error(path: Path, error: Exception) -> AudioError:
    """The sentence for a file that could not be opened, written or closed.

    libsndfile says "System error." whatever went wrong (no folder, no permission, a full
    disk), so the cause is looked for in the file system instead of repeated. Blocking.
    """
    reason = write_problem(path)
    if reason is None and isinstance(error, OSError) and error.strerror:
        reason = error.strerror[:1].lower() + error.strerror[1:]
    if reason is None:
        reason = "the system refused to write it; the disk may be full"
    return AudioError(f"Cannot write {path}: {reason.rstrip('.')}.")


class _SinkUtterance:
    """An utterance on a clockless sink (implements ``UtteranceOutput``)."""

    def __init__(self, sink: _ClocklessSink) -> None:
        loop = asyncio.get_running_loop()
        self._sink = sink
        self._first_sound: asyncio.Future[float] = loop.create_future()
        self._finished: asyncio.Future[float] = loop.create_future()
        self._resampler: StreamResampler | None = None
        self.ended = False
        self.discarded = False

    @property
    def first_sound(self) -> asyncio.Future[float]:
        return self._first_sound

    @property
    def finished(self) -> asyncio.Future[float]:
        return self._finished

    async def write(self, chunk: AudioChunk) -> None:
        if self.discarded:
            return
        if self.ended:
            raise RuntimeError("write() after end()")
        await self._sink.wait_resumed()
        if self._resampler is None or self._resampler.in_rate != chunk.sample_rate:
            if self._resampler is not None:
                await self._emit(self._resampler.flush())
            self._resampler = StreamResampler(chunk.sample_rate, self._sink.sample_rate)
        await self._emit(self._resampler.process(chunk.pcm))

    async def _emit(self, frames: Frames) -> None:
        if not len(frames) or self.discarded:
            return
        audible = not self._first_sound.done() and first_audible(frames) is not None
        await self._sink.put(frames)
        if audible and not self._first_sound.done():
            self._first_sound.set_result(time.monotonic())

    def mark(self) -> asyncio.Future[float]:
        # Everything written so far is already in the sink: the mark is reached.
        fut: asyncio.Future[float] = self._finished.get_loop().create_future()
        if self.discarded:
            fut.cancel()
        else:
            fut.set_result(time.monotonic())
        return fut

    def end(self) -> None:
        if self.ended or self.discarded:
            return
        self.ended = True
        tail = self._resampler.flush() if self._resampler is not None else None
        self._sink.finish_utterance(self, tail)

    def discard(self) -> None:
        if self.discarded:
            return
        self.discarded = True
        self._first_sound.cancel()
        self._finished.cancel()

    def fail(self, error: AudioError) -> None:
        for fut in (self._first_sound, self._finished):
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # retrieved: the awaiting worker still gets it

    def complete(self) -> None:
        """The sink wrote the tail: the utterance is over."""
        now = time.monotonic()
        if not self._first_sound.done():  # all silence: it "sounds" when it is over
            self._first_sound.set_result(now)
        if not self._finished.done():
            self._finished.set_result(now)


class _ClocklessSink:
    """What FileSink and NullSink share: utterances, pause gate, counters."""

    device = "sink"

    def __init__(self, sample_rate: int) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, not {sample_rate}")
        self._rate = sample_rate
        self._volume = 1.0
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._frames = 0
        self._utterance: _SinkUtterance | None = None
        self._tail_task: asyncio.Task[None] | None = None

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume = clamp_volume(value)

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    async def wait_resumed(self) -> None:
        await self._resumed.wait()

    async def open(self) -> None:
        return None

    def start_utterance(self) -> _SinkUtterance:
        live = self._utterance
        if live is not None and not (live.ended or live.discarded):
            raise RuntimeError("the previous utterance is still being written")
        self._utterance = _SinkUtterance(self)
        return self._utterance

    async def put(self, frames: Frames) -> None:
        await self._write(frames)
        self._frames += len(frames)

    async def _write(self, frames: Frames) -> None:
        raise NotImplementedError

    def finish_utterance(self, utt: _SinkUtterance, tail: Frames | None) -> None:
        """Write the tail (end() cannot await) in a task this sink owns and awaits later."""
        previous = self._tail_task
        self._tail_task = asyncio.get_running_loop().create_task(self._finish(utt, tail, previous))

    async def _finish(
        self, utt: _SinkUtterance, tail: Frames | None, previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:
            await previous
        try:
            if tail is not None and len(tail) and not utt.discarded:
                await self.put(tail)
            await self._flush()
        except AudioError as exc:
            utt.fail(exc)  # the worker awaiting ``finished`` learns of it there
            return
        utt.complete()

    async def _flush(self) -> None:
        return None

    def counters(self) -> OutputCounters:
        return OutputCounters(
            underruns=0,
            gap_seconds=0.0,
            frames_played=self._frames,
            device=self.device,
            sample_rate=self._rate,
            latency=0.0,
        )

    async def aclose(self) -> None:
        if self._utterance is not None and not self._utterance.ended:
            self._utterance.discard()
        if self._tail_task is not None:
            await self._tail_task
            self._tail_task = None


class NullSink(_ClocklessSink):
    """Swallows audio and counts it: measures the engine without a sound card."""

    device = "null"

    def __init__(self, sample_rate: int = 48000) -> None:
        super().__init__(sample_rate)

    async def _write(self, frames: Frames) -> None:
        return None


class FileSink(_ClocklessSink):
    """Writes every utterance, one after another, into one audio file.

    The file is written as audio arrives (never held whole in memory), in a worker thread
    (``asyncio.to_thread``) so encoding MP3 or Vorbis never stalls the event loop.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sample_rate: int = 22050,
        format: str | None = None,
    ) -> None:
        super().__init__(sample_rate)
        self.path = Path(path)
        self._format, self._subtype = resolve_format(self.path, format)
        self._file: sf.SoundFile | None = None
        self.device = str(self.path)

    async def open(self) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(self._guarded, self._open)

    def _open(self) -> sf.SoundFile:
        return sf.SoundFile(
            self.path,
            mode="w",
            samplerate=self._rate,
            channels=1,
            format=self._format,
            subtype=self._subtype,
        )

    def _guarded(self, action: Callable[[], _T]) -> _T:
        """``action`` on the file, its failure told as a sentence (in the worker thread, where
        the file system may be asked why)."""
        try:
            return action()
        except (OSError, RuntimeError) as exc:  # LibsndfileError is a RuntimeError
            raise _write_error(self.path, exc) from exc

    async def _write(self, frames: Frames) -> None:
        file = self._file
        if file is None:
            raise RuntimeError("open() the file sink before writing")
        # Clip: the resampler may overshoot full scale slightly, and integer and MP3 encoders
        # wrap or distort rather than saturate.
        clipped = np.clip(frames, -1.0, 1.0)
        await asyncio.to_thread(self._guarded, lambda: file.write(clipped))

    async def _flush(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(self._guarded, self._file.flush)

    async def aclose(self) -> None:
        await super().aclose()
        file, self._file = self._file, None
        if file is not None:
            await asyncio.to_thread(self._guarded, file.close)
