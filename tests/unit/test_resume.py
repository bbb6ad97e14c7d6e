"""Reading positions: a document left part-way continues there, a sentence early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from voxtray.core.model import (
    Event,
    RequestCanceled,
    RequestFinished,
    RequestWarning,
    SegmentAudible,
    SpeakRequest,
    VoiceRef,
)
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.resume import ResumeStore, document_key

from tests.fakes.clocked_output import ClockedOutput

SENTENCES = [f"This is sentence number {word} of the book." for word in "abcdefghij"]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.txt"
    path.write_text(" ".join(SENTENCES) + "\n")
    return path


@pytest.fixture
def store(tmp_path: Path) -> ResumeStore:
    return ResumeStore(tmp_path / "positions.json")


def tone_narrator(store: ResumeStore, *, max_chars: int = 400) -> Narrator:
    """``max_chars``: a small limit cuts sentences into parts (``SegmentKind.PART``)."""
    registry = ProviderRegistry()
    registry.add(ToneProvider(seconds_per_char=0.01, max_chars=max_chars))
    return Narrator(
        output=ClockedOutput(speed=20.0),
        providers=registry,
        default_voice=VoiceRef("tone", "440"),
        settings=WorkerSettings(resume=store, first_clause_chars=60),
    )


@pytest.fixture
async def narrator(store: ResumeStore) -> AsyncIterator[Narrator]:
    async with tone_narrator(store) as narrator:
        yield narrator


class Heard:
    def __init__(self, narrator: Narrator) -> None:
        self.events: list[Event] = []
        self.reached = asyncio.Event()
        self.wanted = -1
        narrator.add_listener(self._seen)

    def _seen(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, SegmentAudible) and event.segment_index >= self.wanted >= 0:
            self.reached.set()

    def audible(self) -> list[SegmentAudible]:
        return [e for e in self.events if isinstance(e, SegmentAudible)]


def sentence_start(index: int) -> int:
    return len(" ".join(SENTENCES[:index])) + (1 if index else 0)


async def test_reopening_continues_one_sentence_early(narrator: Narrator, book: Path) -> None:
    heard = Heard(narrator)
    heard.wanted = 4
    first = narrator.speak(SpeakRequest(source=book))
    await asyncio.wait_for(heard.reached.wait(), 10)
    narrator.cancel(first.request_id)
    assert isinstance(await first.wait(), RequestCanceled)
    stopped_at = heard.audible()[-1].segment_index  # the sentence being heard at the stop

    heard.events.clear()
    second = narrator.speak(SpeakRequest(source=book))
    assert isinstance(await second.wait(), RequestFinished)
    resumed = heard.audible()
    assert resumed[0].start == sentence_start(stopped_at - 1)
    assert resumed[0].text == SENTENCES[stopped_at - 1]
    assert resumed[-1].text == SENTENCES[-1]
    assert [e.start for e in resumed] == [sentence_start(i) for i in range(stopped_at - 1, 10)]
    notes = [e.message for e in heard.events if isinstance(e, RequestWarning)]
    assert any("Resuming book.txt" in note and "--from-start" in note for note in notes)

    # Heard to the end: next time it starts from the beginning.
    heard.events.clear()
    assert isinstance(await narrator.speak(SpeakRequest(source=book)).wait(), RequestFinished)
    assert heard.audible()[0].start == 0


async def test_from_start_ignores_the_position(narrator: Narrator, book: Path) -> None:
    heard = Heard(narrator)
    heard.wanted = 3
    first = narrator.speak(SpeakRequest(source=book))
    await asyncio.wait_for(heard.reached.wait(), 10)
    narrator.cancel(first.request_id)
    await first.wait()
    heard.events.clear()
    again = narrator.speak(SpeakRequest(source=book, from_start=True))
    assert isinstance(await again.wait(), RequestFinished)
    assert heard.audible()[0].start == 0


async def test_an_edited_document_starts_over(narrator: Narrator, book: Path) -> None:
    heard = Heard(narrator)
    heard.wanted = 3
    first = narrator.speak(SpeakRequest(source=book))
    await asyncio.wait_for(heard.reached.wait(), 10)
    narrator.cancel(first.request_id)
    await first.wait()
    edited = "A new first line. " + " ".join(SENTENCES) + "\n"
    await asyncio.to_thread(book.write_text, edited)
    heard.events.clear()
    assert isinstance(await narrator.speak(SpeakRequest(source=book)).wait(), RequestFinished)
    assert heard.audible()[0].start == 0


def test_store_round_trip_bound_and_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "positions.json"
    store = ResumeStore(path, max_documents=2)
    for number, key in enumerate(("a", "b", "c")):
        store.set(key, 100 + number)
    store.save()
    again = ResumeStore(path)
    assert again.get("a") is None  # the oldest went beyond the bound
    assert (again.get("b"), again.get("c")) == (101, 102)
    path.write_text("{not json")
    assert ResumeStore(path).get("b") is None  # unreadable: start over, no crash


def test_document_key_follows_content(tmp_path: Path) -> None:
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("same words")
    two.write_text("same words")
    assert document_key(one) == document_key(two)
    two.write_text("other words")
    assert document_key(one) != document_key(two)


def test_a_big_document_is_keyed_by_its_size_and_ends(tmp_path: Path) -> None:
    """Bounded cost: the middle of a big file is not read, but its ends and size are."""
    path = tmp_path / "big.txt"
    body = bytearray(b"x" * (3 << 20))
    path.write_bytes(body)
    original = document_key(path)
    for position in (10, len(body) - 10):
        changed = bytearray(body)
        changed[position] = ord("y")
        path.write_bytes(changed)
        assert document_key(path) != original
    path.write_bytes(bytes(body) + b"z")
    assert document_key(path) != original


def stop_when(
    narrator: Narrator, heard: Heard, condition: Callable[[SegmentAudible], bool]
) -> None:
    """Cancel what plays from inside the event of the first segment that meets ``condition``:
    nothing more is heard after it, however fast the clocked output runs."""

    def seen(event: Event) -> None:
        if isinstance(event, SegmentAudible) and condition(event) and not heard.reached.is_set():
            heard.reached.set()
            narrator.cancel(event.request_id)

    narrator.add_listener(seen)


async def test_after_a_jump_the_saved_place_is_the_new_one(
    narrator: Narrator, store: ResumeStore, book: Path
) -> None:
    """Jump ahead, hear one sentence there, stop: reopening continues at the jump's target,
    not at the sentence heard before the jump."""
    target = sentence_start(7)
    heard = Heard(narrator)
    jumped = False

    def jump(event: Event) -> None:
        nonlocal jumped
        if isinstance(event, SegmentAudible) and event.segment_index == 3 and not jumped:
            jumped = narrator.jump_to(target)

    narrator.add_listener(jump)
    # Index 0: the first segment of the stretch after the move (the first stretch has the
    # target sentence as segment 7).
    stop_when(narrator, heard, lambda event: event.start == target and event.segment_index == 0)
    first = narrator.speak(SpeakRequest(source=book))
    assert isinstance(await first.wait(), RequestCanceled)
    assert jumped
    assert [e.start for e in heard.audible()][-1] == target
    key = await asyncio.to_thread(document_key, book)
    assert store.get(key) == target
    assert ResumeStore(store.path).get(key) == target  # saved to disk when the request ended

    heard.events.clear()
    again = narrator.speak(SpeakRequest(source=book))
    assert isinstance(await again.wait(), RequestFinished)
    assert heard.audible()[0].start == target


LONG = [
    f"Sentence {word} is long, and it goes on and on for a while before it ends."
    for word in "abcdefgh"
]


async def test_resuming_goes_back_to_a_sentence_start_not_a_part(
    store: ResumeStore, tmp_path: Path
) -> None:
    """Sentences too long for one call are cut into parts; stopped in the middle part of the
    fifth sentence, reopening starts at the beginning of the fourth."""
    path = tmp_path / "long.txt"
    path.write_text(" ".join(LONG) + "\n")
    starts = [len(" ".join(LONG[:index])) + (1 if index else 0) for index in range(len(LONG))]
    async with tone_narrator(store, max_chars=30) as narrator:
        heard = Heard(narrator)
        stop_when(narrator, heard, lambda event: starts[4] < event.start < starts[5] - 20)
        first = narrator.speak(SpeakRequest(source=path))
        assert isinstance(await first.wait(), RequestCanceled)
        last = heard.audible()[-1]
        assert starts[4] < last.start  # stopped inside a sentence, on a part of it
        assert heard.audible()[-2].start == starts[4]  # the segment before: the same sentence

        heard.events.clear()
        again = narrator.speak(SpeakRequest(source=path))
        assert isinstance(await again.wait(), RequestFinished)
        resumed = heard.audible()
        assert resumed[0].start == starts[3]
        assert LONG[3].startswith(resumed[0].text)
        assert resumed[-1].text == LONG[-1][-len(resumed[-1].text) :]
