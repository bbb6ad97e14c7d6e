"""Speaking one request: segments in order into the audio output, with progress and skip.

The playback keeps a short ledger of the segments it has written but that have not finished
playing (at most what the output's ring buffer holds, a few seconds). That ledger is what makes
"skip to the next sentence" exact: the output drops everything not yet heard, and the playback
writes again, from the ledger, the segments after the one being heard, then carries on with the
synthesis stream. Nothing is synthesized twice, nothing is skipped beyond the current sentence.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from ..audio.output import AudioOutput, UtteranceOutput
from ..model import SAMPLE_WIDTH, AudioChunk, RequestId, Segment, SegmentKind
from .scheduler import SegmentAudio


@dataclass(frozen=True, slots=True)
class Pauses:
    """Silence written between segments, on top of the voice's own breathing room.

    Voices end a sentence with a short silence of their own (Piper: about 0.15 s), which runs
    sentences together in long reading; a paragraph needs a clearly longer break for the ear to
    hear the structure a reader sees. Both shrink with speed, as a faster reader pauses less.
    """

    sentence: float = 0.1
    paragraph: float = 0.45

    def at_rate(self, rate: float) -> Pauses:
        return Pauses(self.sentence / rate, self.paragraph / rate)

    def after(self, kind: SegmentKind) -> float:
        if kind is SegmentKind.PARAGRAPH:
            return self.paragraph
        return self.sentence if kind is SegmentKind.SENTENCE else 0.0


@dataclass(slots=True)
class _Written:
    """A segment whose audio went (at least partly) into the current utterance."""

    segment: Segment
    chunks: list[AudioChunk] = field(default_factory=list)
    started: asyncio.Future[float] | None = None
    """Resolves when the segment's first sample is heard."""
    offset: float = 0.0
    """Seconds of the request's audio written before this segment (see ``Playback``)."""
    complete: bool = False


class Playback:
    """Writes the ordered segment audio of one request and reports what becomes audible."""

    def __init__(
        self,
        *,
        request_id: RequestId,
        output: AudioOutput,
        on_first_sound: Callable[[float], None],
        on_segment_audible: Callable[[Segment, float, float | None], None],
        report_first_sound: bool = True,
        pauses: Pauses | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """``on_segment_audible(segment, offset, duration)``: ``offset`` is the seconds of audio
        this playback wrote before the segment, counted from the chunks themselves (not a
        clock), so it is the segment's time in a file the output writes (an export);
        ``duration`` is the segment's own length when all of it had arrived, else None.
        ``report_first_sound=False``: the request already sounded (this plays after a move).
        ``on_progress(offset)``: a chunk that the voice aligned became audible; the audio before
        it covered the text up to ``offset``."""
        self._on_progress = on_progress
        self._request_id = request_id
        self._output = output
        self._on_first_sound = on_first_sound
        self._on_segment_audible = on_segment_audible
        self._first_sound_reported = not report_first_sound
        self._pauses = pauses or Pauses(0.0, 0.0)
        self._pause_due = 0.0
        self._sample_rate: int | None = None
        self._ledger: deque[_Written] = deque()
        self._current: SegmentAudio | None = None
        self._replay: list[_Written] = []
        self._skip = asyncio.Event()
        self._utterance = self._new_utterance()
        self.segments_written = 0
        self._written_seconds = 0.0

    def skip(self) -> None:
        """Drop the rest of the segment being heard and go on with the next one."""
        self._skip.set()

    def silence(self) -> None:
        """Drop every sample not yet heard, now, before the task that plays is cancelled.

        Cancellation reaches :meth:`play` only after a few turns of the event loop, and a turn
        can be long while the loop resamples audio or a window repaints; "shut up" must not
        wait for them. The owner cancels the playing task right after this.
        """
        self._utterance.discard()

    async def play(self, segments: AsyncIterator[SegmentAudio]) -> None:
        """Write every segment, then wait until the last sample was heard."""
        try:
            while True:
                feed = asyncio.ensure_future(self._feed(segments))
                skip = asyncio.ensure_future(self._skip.wait())
                try:
                    await asyncio.wait({feed, skip}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    skip.cancel()
                    if not feed.done():
                        feed.cancel()
                    await asyncio.gather(feed, skip, return_exceptions=True)
                if self._skip.is_set():
                    self._skip.clear()
                    self._apply_skip()
                    continue
                feed.result()  # re-raise a synthesis failure
                break
            self._utterance.end()
            # Shielded: cancelling this task must not cancel the output's own future.
            await asyncio.shield(self._utterance.finished)
        except BaseException:
            self._utterance.discard()
            raise

    async def _feed(self, segments: AsyncIterator[SegmentAudio]) -> None:
        if self._replay:
            self._pause_due = 0.0  # after a skip, the next sentence comes at once
        while self._replay:
            old = self._replay.pop(0)
            await self._write_pause()
            written = self._begin_segment(old.segment)
            written.complete = old.complete
            written.chunks = old.chunks  # all the audio known, so a second skip can replay it
            for chunk in old.chunks:
                await self._write(chunk)
            if old.complete:
                self._pause_due = self._pauses.after(old.segment.kind)
        if self._current is not None:
            await self._write_rest(self._current)
        async for audio in segments:
            self._current = audio
            await self._write_rest(audio)

    async def _write_rest(self, audio: SegmentAudio) -> None:
        written = self._ledger[-1] if self._ledger else None
        if written is None or written.segment.index != audio.segment.index:
            await self._write_pause()
            written = self._begin_segment(audio.segment)
        spoken = 0
        async for chunk in audio:
            written.chunks.append(chunk)
            self._sample_rate = chunk.sample_rate
            inside = 0 < spoken < audio.segment.end - audio.segment.start
            if self._on_progress is not None and inside and chunk.spoken_chars is not None:
                reached = self._utterance.mark()
                reached.add_done_callback(
                    functools.partial(self._progressed, audio.segment.start + spoken)
                )
            if chunk.spoken_chars is not None:
                spoken = chunk.spoken_chars
            await self._write(chunk)
        written.complete = True
        self._current = None
        self.segments_written += 1
        self._pause_due = self._pauses.after(audio.segment.kind)

    async def _write_pause(self) -> None:
        """The pause the previous segment asked for, written only once another segment follows
        (the end of a request gets none, so nothing waits for it)."""
        due, self._pause_due = self._pause_due, 0.0
        rate = self._sample_rate
        frames = int(due * rate) if rate else 0
        if frames > 0 and rate:
            await self._write(AudioChunk(bytes(frames * SAMPLE_WIDTH), rate))

    async def _write(self, chunk: AudioChunk) -> None:
        self._written_seconds += chunk.duration
        await self._utterance.write(chunk)

    def _begin_segment(self, segment: Segment) -> _Written:
        started = self._utterance.mark()
        written = _Written(segment, started=started, offset=self._written_seconds)
        started.add_done_callback(functools.partial(self._heard, written))
        self._ledger.append(written)
        return written

    def _heard(self, written: _Written, started: asyncio.Future[float]) -> None:
        if started.cancelled():
            return
        # Segments before this one have been heard completely: they leave the ledger.
        while self._ledger and self._ledger[0] is not written:
            self._ledger.popleft()
        duration = sum(c.duration for c in written.chunks) if written.complete else None
        self._on_segment_audible(written.segment, written.offset, duration)

    def _progressed(self, offset: int, reached: asyncio.Future[float]) -> None:
        if not reached.cancelled() and self._on_progress is not None:
            self._on_progress(offset)

    def _audible(self) -> _Written | None:
        audible = None
        for written in self._ledger:
            if written.started is not None and written.started.done():
                audible = written
        return audible

    def _apply_skip(self) -> None:
        """Drop all unheard audio; queue again the segments after the one being heard."""
        audible = self._audible()
        self._utterance.discard()
        self._utterance = self._new_utterance()
        replay: list[_Written] = []
        if audible is not None:
            keep = False
            for written in self._ledger:
                if keep:
                    replay.append(written)
                keep = keep or written is audible
            if self._current is not None and self._current.segment == audible.segment:
                self._current.discard()
                self._current = None
        else:
            # Nothing heard yet: skip the first segment written.
            replay = list(self._ledger)[1:]
            first = self._ledger[0].segment if self._ledger else None
            if self._current is not None and self._current.segment == first:
                self._current.discard()
                self._current = None
        self._ledger.clear()
        self._replay = replay + self._replay

    def _new_utterance(self) -> UtteranceOutput:
        utterance = self._output.start_utterance()
        if not self._first_sound_reported:
            utterance.first_sound.add_done_callback(self._first_sound)
        return utterance

    def _first_sound(self, future: asyncio.Future[float]) -> None:
        if future.cancelled() or self._first_sound_reported:
            return
        self._first_sound_reported = True
        self._on_first_sound(future.result())
