"""Transport: the seekable text, where each move lands, and the narrator moving for real.

The narrator tests run on the clocked in-memory output with ``step:`` tone voices, whose pitch
says which segment was heard, so "what came out after the move" is checked on the audio itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from voxtray.core.model import (
    ChapterFound,
    Repositioned,
    RequestFinished,
    SegmentAudible,
    SpeakRequest,
    SpeechProgress,
    TextRead,
    TextUnit,
    VoiceRef,
)
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.playback import Pauses
from voxtray.core.orchestrator.scheduler import split_rate
from voxtray.core.orchestrator.transport import Move, MoveKind, resolve, sentence_start
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.text.document import Chapter
from voxtray.core.text.seekable import SeekableText

from tests.fakes.clocked_output import ClockedOutput
from tests.harness.signal import dominant_frequency
from tests.unit.test_narrator import Recorder

RATE = 22050

PARAGRAPHS = [
    "The first paragraph starts here. It has a second sentence. And a third one too.",
    "Paragraph two begins now. Its middle sentence is this. It ends with this one.",
    "The third paragraph is short. Only two sentences.",
    "A last paragraph closes the text.",
]
TEXT = "\n\n".join(PARAGRAPHS)


def at(text: str, fragment: str) -> int:
    return text.index(fragment)


class _Stream(Iterator[str]):
    """A document stream: pieces, plus chapter marks found as they are read."""

    def __init__(self, pieces: list[str], chapters: list[Chapter]) -> None:
        self._pieces = iter(pieces)
        self._pending = sorted(chapters, key=lambda c: c.offset)
        self.chapters: list[Chapter] = []
        self._read = 0
        self.closed = False

    def __next__(self) -> str:
        piece = next(self._pieces)
        self._read += len(piece)
        while self._pending and self._pending[0].offset < self._read:
            self.chapters.append(self._pending.pop(0))
        return piece

    def close(self) -> None:
        self.closed = True


def seekable(
    text: str, *, piece: int = 10, keep: int = 10_000, chapters: list[Chapter] | None = None
) -> tuple[SeekableText, list[int]]:
    opens: list[int] = []

    def opener(*, again: bool) -> Iterator[str]:
        opens.append(int(again))
        return _Stream([text[i : i + piece] for i in range(0, len(text), piece)], chapters or [])

    return SeekableText(opener, keep_chars=keep), opens


# -- the seekable text --------------------------------------------------------------------------


def test_pieces_from_any_offset_rebuild_the_text() -> None:
    text, opens = seekable(TEXT)
    assert "".join(text.pieces_from(0)) == TEXT
    for offset in (0, 5, 37, len(TEXT) - 1):
        assert "".join(text.pieces_from(offset)) == TEXT[offset:]
    assert opens == [0]  # everything was kept: read once


def test_a_position_no_longer_kept_is_read_again_from_the_file() -> None:
    text, opens = seekable(TEXT, keep=40)
    assert "".join(text.pieces_from(0)) == TEXT
    assert text.kept_start() > 0
    assert "".join(text.pieces_from(3)) == TEXT[3:]
    assert opens == [0, 1]


def test_a_newer_reader_stops_the_older_one() -> None:
    text, _ = seekable(TEXT)
    old = text.pieces_from(0)
    assert next(old) == TEXT[:10]
    new = text.pieces_from(20)
    assert next(new).startswith(TEXT[20:30])
    assert list(old) == []


def test_text_and_chapters_are_reported_once_as_read() -> None:
    seen: list[tuple[int, str]] = []
    found: list[tuple[int, Chapter]] = []
    chapters = [Chapter("One", 0), Chapter("Two", at(TEXT, "Paragraph two"))]

    def opener(*, again: bool) -> Iterator[str]:
        return _Stream([TEXT[i : i + 7] for i in range(0, len(TEXT), 7)], chapters)

    text = SeekableText(
        opener,
        keep_chars=30,
        on_text=lambda start, piece: seen.append((start, piece)),
        on_chapter=lambda index, chapter: found.append((index, chapter)),
    )
    list(text.pieces_from(0))
    list(text.pieces_from(0))  # read again from the file: nothing new to report
    assert "".join(piece for _, piece in seen) == TEXT
    assert [start for start, _ in seen] == list(range(0, len(TEXT), 7))
    assert found == [(0, chapters[0]), (1, chapters[1])]
    assert text.chapters == chapters


def test_close_releases_the_stream() -> None:
    streams: list[_Stream] = []

    def opener(*, again: bool) -> Iterator[str]:
        streams.append(_Stream([TEXT], []))
        return streams[-1]

    text = SeekableText(opener)
    assert next(text.pieces_from(0)) == TEXT
    text.close()
    assert streams[0].closed
    assert list(text.pieces_from(0)) == []


# -- where moves land ---------------------------------------------------------------------------


def test_sentence_start_snaps_to_the_whole_sentence() -> None:
    text, _ = seekable(TEXT)
    middle = at(TEXT, "middle sentence")
    assert sentence_start(text, middle) == at(TEXT, "Its middle")
    assert sentence_start(text, at(TEXT, "Its middle")) == at(TEXT, "Its middle")
    assert sentence_start(text, 0) == 0
    # Between paragraphs: the sentence before.
    gap = at(TEXT, "\n\nParagraph two")
    assert sentence_start(text, gap + 1) == at(TEXT, "And a third")


@pytest.mark.parametrize(
    ("unit", "position", "heard_for", "expected"),
    [
        # In a sentence's first seconds, back goes to the one before; later, to its start.
        (TextUnit.SENTENCE, "Its middle", 0.5, "Paragraph two"),
        (TextUnit.SENTENCE, "Its middle", 3.0, "Its middle"),
        (TextUnit.SENTENCE, "Paragraph two", 0.5, "And a third"),
        # A paragraph: its start from inside it, the one before from its first sentence.
        (TextUnit.PARAGRAPH, "It ends with", 0.5, "Paragraph two"),
        (TextUnit.PARAGRAPH, "Paragraph two", 0.5, "The first paragraph"),
        (TextUnit.PARAGRAPH, "Paragraph two", 3.0, "Paragraph two"),
        (TextUnit.PARAGRAPH, "The first paragraph", 0.1, "The first paragraph"),
    ],
)
def test_rewind(unit: TextUnit, position: str, heard_for: float, expected: str) -> None:
    text, _ = seekable(TEXT)
    landed = resolve(text, Move(MoveKind.REWIND, unit), at(TEXT, position), heard_for)
    assert landed == at(TEXT, expected)


def test_skip_paragraph_and_past_the_end() -> None:
    text, _ = seekable(TEXT)
    move = Move(MoveKind.SKIP, TextUnit.PARAGRAPH)
    assert resolve(text, move, at(TEXT, "Its middle"), 0) == at(TEXT, "The third paragraph")
    assert resolve(text, move, at(TEXT, "A last paragraph"), 0) is None


def test_chapters_skip_and_rewind_read_ahead_to_find_them() -> None:
    chapters = [Chapter("One", 0), Chapter("Two", at(TEXT, "The third paragraph"))]
    text, _ = seekable(TEXT, chapters=chapters)
    skip = Move(MoveKind.SKIP, TextUnit.CHAPTER)
    # Nothing read yet: the skip reads on until the next chapter mark shows up.
    assert resolve(text, skip, 0, 0) == chapters[1].offset
    assert resolve(text, skip, chapters[1].offset, 0) is None
    back = Move(MoveKind.REWIND, TextUnit.CHAPTER)
    assert resolve(text, back, at(TEXT, "A last paragraph"), 0) == chapters[1].offset
    assert resolve(text, back, chapters[1].offset, 0.2) == 0
    assert resolve(text, Move(MoveKind.CHAPTER, index=1), 0, 0) == chapters[1].offset


def test_jump_snaps_and_a_jump_past_the_end_ends() -> None:
    text, _ = seekable(TEXT)
    jump = Move(MoveKind.JUMP, offset=at(TEXT, "two sentences"))
    assert resolve(text, jump, 0, 0) == at(TEXT, "Only two")
    assert resolve(text, Move(MoveKind.JUMP, offset=len(TEXT) + 50), 0, 0) is None


# -- the narrator moving for real ---------------------------------------------------------------

STEP = "step:300:100"  # segment n sounds at 300 + 100 n Hz (within one run)


@pytest.fixture
async def output() -> ClockedOutput:
    return ClockedOutput(sample_rate=RATE, speed=10.0)


async def _narrator(output: ClockedOutput, pauses: Pauses | None = None) -> Narrator:
    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=0.01, chunk_seconds=0.05))
    return Narrator(
        output=output,
        providers=registry,
        default_voice=VoiceRef("tone", STEP),
        settings=WorkerSettings(
            lookahead_seconds=2.0, first_clause_chars=200, pauses=pauses or Pauses(0.0, 0.0)
        ),
    )


@pytest.fixture
async def narrator(output: ClockedOutput) -> AsyncIterator[Narrator]:
    async with await _narrator(output) as narrator:
        yield narrator


def audible(start: int):
    return lambda e: isinstance(e, SegmentAudible) and e.start == start


async def test_rewind_paragraph_goes_back_and_speech_goes_on_from_there(
    narrator: Narrator,
) -> None:
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text=TEXT))
    await events.until(audible(at(TEXT, "Its middle")))
    assert narrator.rewind(TextUnit.PARAGRAPH)
    moved = await events.until(lambda e: isinstance(e, Repositioned))
    assert isinstance(moved, Repositioned) and moved.offset == at(TEXT, "Paragraph two")
    assert isinstance(await handle.wait(), RequestFinished)
    heard = [e.start for e in events.of(SegmentAudible)]
    after = heard[heard.index(at(TEXT, "Its middle")) + 1 :]
    assert after[0] == at(TEXT, "Paragraph two")
    assert after[-1] == at(TEXT, "A last paragraph")
    assert after == sorted(after)  # then straight on to the end


async def test_skip_paragraph_and_jump(narrator: Narrator) -> None:
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text=TEXT))
    await events.until(audible(at(TEXT, "It has a second")))
    assert narrator.skip(TextUnit.PARAGRAPH)
    await events.until(audible(at(TEXT, "Paragraph two")))
    assert narrator.jump_to(at(TEXT, "sentences."))  # the middle of a sentence
    await events.until(audible(at(TEXT, "Only two")))
    assert isinstance(await handle.wait(), RequestFinished)
    heard = [e.start for e in events.of(SegmentAudible)]
    assert at(TEXT, "And a third") not in heard
    assert at(TEXT, "The third paragraph") not in heard[heard.index(at(TEXT, "Paragraph two")) :]
    assert events.of(TextRead)[0].start == 0


async def test_skip_past_the_end_finishes_the_request(narrator: Narrator) -> None:
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text=TEXT))
    await events.until(audible(at(TEXT, "A last paragraph")))
    assert narrator.skip(TextUnit.PARAGRAPH)
    assert isinstance(await handle.wait(), RequestFinished)


async def test_moves_are_refused_when_nothing_plays(narrator: Narrator) -> None:
    assert not narrator.rewind()
    assert not narrator.skip(TextUnit.PARAGRAPH)
    assert not narrator.jump_to(3)
    assert not narrator.jump_to_chapter(0)
    assert not narrator.change_rate(1.5)
    assert narrator.chapters() == []


async def test_a_move_silences_the_old_position_at_once(
    narrator: Narrator, output: ClockedOutput
) -> None:
    """Nothing of what was queued for the old position is heard after the move."""
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text=TEXT))
    await events.until(audible(at(TEXT, "It has a second")))
    narrator.rewind(TextUnit.PARAGRAPH)
    await events.until(lambda e: isinstance(e, Repositioned))
    discarded = len(output.utterances)
    await handle.wait()
    # After the move, a new run starts at segment 0 of its own: its first pitch is 300 Hz.
    fresh = np.concatenate([u.samples for u in output.utterances[discarded - 1 :]])
    from tests.unit.test_narrator import frequencies

    pitches = [round(f / 100) * 100 for f in frequencies(fresh, 0.02) if f > 0]
    assert pitches[0] == 300


async def test_change_rate_restarts_the_sentence_at_the_new_rate(
    narrator: Narrator, output: ClockedOutput
) -> None:
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text=TEXT))
    await events.until(audible(at(TEXT, "It has a second")))
    assert narrator.change_rate(2.0)
    moved = await events.until(lambda e: isinstance(e, Repositioned))
    assert isinstance(moved, Repositioned) and moved.offset == at(TEXT, "It has a second")
    await handle.wait()
    durations = {e.start: e.duration for e in events.of(SegmentAudible) if e.duration}
    last = at(TEXT, "A last paragraph")
    # The tone voice speaks 0.01 s a character at rate 1: the rest went twice as fast.
    assert durations[last] == pytest.approx(len(PARAGRAPHS[3]) * 0.01 / 2, rel=0.05)


async def test_pauses_follow_sentences_and_paragraphs_and_scale_with_rate(
    output: ClockedOutput,
) -> None:
    text = "One short sentence. Another one.\n\nA new paragraph."
    for rate in (1.0, 2.0):
        async with await _narrator(output, Pauses(0.2, 0.6)) as narrator:
            events = Recorder(narrator)
            start = len(output.utterances)
            await narrator.speak(SpeakRequest(text=text, rate=rate)).wait()
            played = sum(len(u.samples) for u in output.utterances[start:]) / RATE
            speech = sum(e.duration or 0 for e in events.of(SegmentAudible))
            # One sentence pause, one paragraph pause, none after the end, shorter when faster.
            assert played - speech == pytest.approx((0.2 + 0.6) / rate, abs=0.02)
            offsets = [e.audio_offset for e in events.of(SegmentAudible)]
            assert offsets[1] == pytest.approx(
                offsets[0] + events.of(SegmentAudible)[0].duration + 0.2 / rate, abs=0.01
            )  # type: ignore[operator]


async def test_chapters_of_a_document(narrator: Narrator, tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text(
        "# Opening\n\nThe first chapter has this sentence.\n\n"
        "# Middle\n\nThe second chapter says this.\n\n"
        "# Ending\n\nThe third chapter closes the book.\n",
        encoding="utf-8",
    )
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(source=book))
    await events.until(lambda e: isinstance(e, ChapterFound) and e.index == 0)
    await events.until(lambda e: isinstance(e, SegmentAudible))
    assert narrator.skip(TextUnit.CHAPTER)
    moved = await events.until(lambda e: isinstance(e, Repositioned))
    titles = [c.title for c in narrator.chapters()]
    assert titles[:2] == ["Opening", "Middle"]
    assert isinstance(moved, Repositioned) and moved.offset == narrator.chapters()[1].offset
    assert narrator.jump_to_chapter(0)
    back = await events.until(lambda e: isinstance(e, Repositioned) and e is not moved)
    assert isinstance(back, Repositioned) and back.offset == 0
    assert not narrator.jump_to_chapter(10)
    assert isinstance(await handle.wait(), RequestFinished)


# -- speed beyond what the voice reaches --------------------------------------------------------


def test_split_rate_leaves_the_rest_to_time_stretching() -> None:
    assert split_rate(1.0, (0.7, 1.2)) == (1.0, 1.0)
    assert split_rate(2.4, (0.7, 1.2)) == (1.2, pytest.approx(2.0))
    assert split_rate(0.35, (0.7, 1.2)) == (0.7, pytest.approx(0.5))
    assert split_rate(2.4, (0.25, 4.0)) == (2.4, 1.0)


@pytest.mark.parametrize("rate", [0.5, 2.0, 2.5])
async def test_speeds_the_voice_cannot_reach_are_stretched_at_the_same_pitch(
    output: ClockedOutput, rate: float
) -> None:
    registry = ProviderRegistry()
    registry.add(
        ToneProvider(
            sample_rate=RATE, seconds_per_char=0.01, chunk_seconds=0.05, rate_range=(0.7, 1.2)
        )
    )
    text = "A sentence long enough to measure its length and its pitch well."
    async with Narrator(
        output=output, providers=registry, default_voice=VoiceRef("tone", "440")
    ) as narrator:
        events = Recorder(narrator)
        start = len(output.utterances)
        await narrator.speak(SpeakRequest(text=text, rate=rate)).wait()
    played = np.concatenate([u.samples for u in output.utterances[start:]])
    expected = len(text) * 0.01 / rate
    assert len(played) / RATE == pytest.approx(expected, rel=0.03)
    known = [e for e in events.of(SegmentAudible) if e.duration is not None]
    for event in known:  # the reported durations are the stretched ones too
        assert event.duration == pytest.approx(len(event.text) * 0.01 / rate, rel=0.1)
    middle = played[len(played) // 4 : 3 * len(played) // 4]
    assert dominant_frequency(middle, RATE) == pytest.approx(440, rel=0.02)


async def test_aligned_voices_report_where_speech_is(output: ClockedOutput) -> None:
    registry = ProviderRegistry()
    registry.add(
        ToneProvider(sample_rate=RATE, seconds_per_char=0.01, chunk_seconds=0.05, alignment=True)
    )
    async with Narrator(
        output=output, providers=registry, default_voice=VoiceRef("tone", "440")
    ) as narrator:
        events = Recorder(narrator)
        await narrator.speak(SpeakRequest(text=TEXT)).wait()
    current: SegmentAudible | None = None
    reached = -1
    progressed = 0
    for event in events.events:
        if isinstance(event, SegmentAudible):
            current, reached = event, event.start
        elif isinstance(event, SpeechProgress):
            # After its segment became audible, inside it, moving forward.
            assert current is not None and current.start < event.offset < current.end
            assert event.offset > reached
            reached = event.offset
            progressed += 1
    assert progressed >= len(TEXT) * 0.01 / 0.05 / 2  # about one per chunk after the first
