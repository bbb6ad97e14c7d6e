"""Reading positions: a document left part-way continues there, a sentence early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
async def narrator(tmp_path: Path) -> AsyncIterator[Narrator]:
    registry = ProviderRegistry()
    registry.add(ToneProvider(seconds_per_char=0.01))
    store = ResumeStore(tmp_path / "positions.json")
    async with Narrator(
        output=ClockedOutput(speed=20.0),
        providers=registry,
        default_voice=VoiceRef("tone", "440"),
        settings=WorkerSettings(resume=store, first_clause_chars=60),
    ) as narrator:
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
