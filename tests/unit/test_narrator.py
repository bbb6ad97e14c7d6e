"""The narrator and its single worker, on a clocked in-memory output with tone voices.

Tone voices make the output exact: the pitch of what was "played" says which request (or which
segment, with the ``step:`` voices) it was.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from voxtray.core.errors import EmptyTextError, ErrorCategory
from voxtray.core.model import (
    Event,
    FirstAudio,
    Priority,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestQueued,
    RequestStarted,
    RequestWarning,
    SegmentAudible,
    SpeakRequest,
    TextEnded,
    VoiceRef,
)
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider

from tests.fakes.clocked_output import ClockedOutput
from tests.harness.signal import dominant_frequency

RATE = 22050
E = TypeVar("E", bound=Event)


def tone(voice: str) -> VoiceRef:
    return VoiceRef("tone", voice)


@pytest.fixture
async def output() -> ClockedOutput:
    return ClockedOutput(sample_rate=RATE, speed=20.0)


@pytest.fixture
async def narrator(output: ClockedOutput) -> AsyncIterator[Narrator]:
    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=0.01, chunk_seconds=0.05))
    narrator = Narrator(
        output=output,
        providers=registry,
        default_voice=tone("440"),
        # Sentence-sized first segments keep the tone arithmetic of these tests simple.
        settings=WorkerSettings(lookahead_seconds=2.0, first_clause_chars=60),
    )
    async with narrator:
        yield narrator


class Recorder:
    """Collects a narrator's events and lets a test wait for one (no polling)."""

    def __init__(self, narrator: Narrator) -> None:
        self.events: list[Event] = []
        self._waiters: list[tuple[Callable[[Event], bool], asyncio.Future[Event]]] = []
        narrator.add_listener(self._seen)

    def _seen(self, event: Event) -> None:
        self.events.append(event)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, predicate: Callable[[Event], bool], limit: float = 10.0) -> Event:
        for event in self.events:
            if predicate(event):
                return event
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return await asyncio.wait_for(future, limit)

    async def first_audio(self) -> Event:
        return await self.until(lambda e: isinstance(e, FirstAudio))


def frequencies(samples: np.ndarray, window: float = 0.05) -> list[float]:
    """The pitch of successive windows of a recording."""
    step = int(window * RATE)
    return [
        dominant_frequency(samples[i : i + step], RATE)
        for i in range(0, len(samples) - step + 1, step)
    ]


async def test_requests_play_whole_in_order_without_overlap(
    narrator: Narrator, output: ClockedOutput
) -> None:
    events = Recorder(narrator)
    first = narrator.speak(
        SpeakRequest(text="A first sentence. And a second one.", voice=tone("440"))
    )
    second = narrator.speak(SpeakRequest(text="Then another request entirely.", voice=tone("660")))
    assert isinstance(await first.wait(), RequestFinished)
    assert isinstance(await second.wait(), RequestFinished)
    assert output.overlaps == 0
    assert len(output.utterances) == 2
    one, two = (u.samples for u in output.utterances)
    expected_one = sum(max(0.1, len(s) * 0.01) for s in ["A first sentence.", "And a second one."])
    assert len(one) / RATE == pytest.approx(expected_one, abs=0.01)
    assert all(abs(f - 440) < 15 for f in frequencies(one))
    assert all(abs(f - 660) < 15 for f in frequencies(two))
    # Every request went through queued → started → first audio → progress → finished.
    for handle in (first, second):
        mine = [e for e in events.events if getattr(e, "request_id", None) == handle.request_id]
        kinds = [type(e) for e in mine]
        assert kinds[0] is RequestQueued and kinds[1] is RequestStarted
        assert FirstAudio in kinds and SegmentAudible in kinds
        assert kinds[-1] is RequestFinished
        assert kinds.count(RequestFinished) == 1


async def test_progress_reports_source_ranges(narrator: Narrator) -> None:
    events = Recorder(narrator)
    text = "One, two three four five six seven. Eight nine ten eleven. Twelve!"
    await narrator.speak(SpeakRequest(text=text)).wait()
    audible = events.of(SegmentAudible)
    assert [e.segment_index for e in audible] == list(range(len(audible)))
    assert len(audible) >= 3
    assert "".join(text[e.start : e.end] for e in audible).replace(" ", "") == text.replace(" ", "")


async def test_first_audio_latency_is_reported(narrator: Narrator) -> None:
    events = Recorder(narrator)
    await narrator.speak(SpeakRequest(text="Quick.")).wait()
    (first,) = events.of(FirstAudio)
    assert 0 < first.latency < 1.0
    assert narrator.stats().as_dict()["time_to_first_audio"]["count"] == 1


async def test_cancel_queued_request_never_plays(narrator: Narrator, output: ClockedOutput) -> None:
    playing = narrator.speak(SpeakRequest(text="x" * 100, voice=tone("440")))
    queued = narrator.speak(SpeakRequest(text="y" * 100, voice=tone("880")))
    assert narrator.cancel(queued.request_id)
    assert isinstance(await queued.wait(), RequestCanceled)
    assert not narrator.cancel(queued.request_id)
    assert isinstance(await playing.wait(), RequestFinished)
    assert len(output.utterances) == 1


async def test_cancel_playing_request_discards_and_moves_on(
    narrator: Narrator, output: ClockedOutput
) -> None:
    events = Recorder(narrator)
    long = narrator.speak(SpeakRequest(text="Long words here. " * 40, voice=tone("440")))
    after = narrator.speak(SpeakRequest(text="After.", voice=tone("660")))
    await events.first_audio()
    assert narrator.cancel(long.request_id)
    assert isinstance(await long.wait(), RequestCanceled)
    assert isinstance(await after.wait(), RequestFinished)
    assert output.utterances[0].discarded
    assert len(output.utterances[0].samples) / RATE < 6.8 * 0.5  # cut well short of 6.8 s
    assert all(abs(f - 660) < 15 for f in frequencies(output.utterances[1].samples))
    assert output.overlaps == 0


async def test_read_now_interrupts_and_plays_next(
    narrator: Narrator, output: ClockedOutput
) -> None:
    events = Recorder(narrator)
    long = narrator.speak(SpeakRequest(text="Long words here. " * 40, voice=tone("440")))
    later = narrator.speak(SpeakRequest(text="Queued normally.", voice=tone("550")))
    await events.first_audio()
    now = narrator.speak(SpeakRequest(text="Read this now.", voice=tone("880"), interrupt=True))
    assert isinstance(await long.wait(), RequestCanceled)
    assert isinstance(await now.wait(), RequestFinished)
    assert isinstance(await later.wait(), RequestFinished)
    pitches = [round(dominant_frequency(u.samples[:2000], RATE)) for u in output.utterances]
    assert pitches == [440, 880, 550]


async def test_stop_cancels_everything(narrator: Narrator, output: ClockedOutput) -> None:
    events = Recorder(narrator)
    handles = [narrator.speak(SpeakRequest(text="Words. " * 30)) for _ in range(4)]
    await events.first_audio()
    assert narrator.stop() == 4
    outcomes = [await h.wait() for h in handles]
    assert all(isinstance(o, RequestCanceled) for o in outcomes)
    assert narrator.queue() == []
    stats = narrator.stats().as_dict()
    assert stats["canceled_requests"] == 4
    assert stats["queue_size"] == 0


async def test_stop_silences_before_the_loop_turns(
    narrator: Narrator, output: ClockedOutput
) -> None:
    """The sound is dropped inside ``stop()`` itself, not a few loop turns later."""
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text="Words. " * 30))
    await events.first_audio()
    playing = output.utterances[-1]
    assert not playing.discarded
    narrator.stop()
    assert playing.discarded  # no await between stop() and this line
    assert isinstance(await handle.wait(), RequestCanceled)


async def test_priority_order_of_queued_requests(narrator: Narrator, output: ClockedOutput) -> None:
    narrator.pause()  # hold the worker on the first request so the rest queue up
    events = Recorder(narrator)
    first = narrator.speak(SpeakRequest(text="First.", voice=tone("300")))
    await events.until(lambda e: isinstance(e, RequestStarted))
    low = narrator.speak(SpeakRequest(text="Low.", voice=tone("400"), priority=Priority.LOW))
    high = narrator.speak(SpeakRequest(text="High.", voice=tone("500"), priority=Priority.HIGH))
    normal = narrator.speak(SpeakRequest(text="Normal.", voice=tone("600")))
    assert [i.request_id for i in narrator.queue()][1:] == [
        high.request_id,
        normal.request_id,
        low.request_id,
    ]
    narrator.resume()
    for handle in (first, low, high, normal):
        await handle.wait()
    pitches = [round(dominant_frequency(u.samples[:1000], RATE)) for u in output.utterances]
    assert pitches == [300, 500, 600, 400]


async def test_empty_text_is_refused_and_nothing_queued(narrator: Narrator) -> None:
    with pytest.raises(EmptyTextError):
        narrator.speak(SpeakRequest(text="  \n\t "))
    assert narrator.queue() == []
    assert narrator.stats().as_dict()["total_requests"] == 0


async def test_failure_is_reported_and_the_next_request_plays(narrator: Narrator) -> None:
    bad = narrator.speak(SpeakRequest(text="Hello.", voice=VoiceRef("tone", "not-a-pitch")))
    good = narrator.speak(SpeakRequest(text="Hello."))
    failed = await bad.wait()
    assert isinstance(failed, RequestFailed)
    assert "not-a-pitch" in failed.reason
    assert failed.category is ErrorCategory.CONFIGURATION
    assert isinstance(await good.wait(), RequestFinished)
    unknown = await narrator.speak(SpeakRequest(text="Hi.", voice=VoiceRef("nope"))).wait()
    assert isinstance(unknown, RequestFailed) and "nope" in unknown.reason


async def test_skip_moves_to_next_segment_without_repeating(
    narrator: Narrator, output: ClockedOutput
) -> None:
    events = Recorder(narrator)
    text = " ".join(f"Sentence number {n} is here and it is long enough." for n in range(6))
    handle = narrator.speak(SpeakRequest(text=text, voice=tone("step:300:100")))
    await events.until(lambda e: isinstance(e, SegmentAudible) and e.segment_index == 1)
    assert narrator.skip()
    assert isinstance(await handle.wait(), RequestFinished)
    played = np.concatenate([u.samples for u in output.utterances])
    pitches = [round(f / 100) * 100 for f in frequencies(played, 0.02)]
    segments = [p for i, p in enumerate(pitches) if i == 0 or p != pitches[i - 1]]
    # Each segment appears once, in order, and segment 1 (being heard at the skip) was cut.
    assert segments == sorted(set(segments))
    assert segments[-1] == 300 + 100 * 5
    heard_1 = sum(1 for p in pitches if p == 400) * 0.02
    assert heard_1 < 0.5 * (len("Sentence number 1 is here and it is long enough.") * 0.01)


async def test_pause_holds_output_and_resume_continues(
    narrator: Narrator, output: ClockedOutput
) -> None:
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text="Pause me please, I am a long request. " * 3))
    await events.first_audio()
    narrator.pause()
    assert narrator.paused
    played = output.frames_played
    await asyncio.sleep(0.1)  # a tenth of a second of (20x) playing time must play nothing
    assert output.frames_played == played
    narrator.resume()
    assert isinstance(await handle.wait(), RequestFinished)


async def test_lookahead_is_bounded(output: ClockedOutput) -> None:
    provider = ToneProvider(sample_rate=RATE, seconds_per_char=0.01)
    registry = ProviderRegistry()
    registry.add(provider)
    async with Narrator(
        output=output,
        providers=registry,
        default_voice=tone("440"),
        settings=WorkerSettings(lookahead_seconds=1.0),
    ) as narrator:
        events = Recorder(narrator)
        narrator.pause()
        narrator.speak(SpeakRequest(text="Each sentence lasts half a second or so. " * 200))
        await asyncio.sleep(0.3)  # time for a runaway producer to overshoot, if it would
        # Paused: only the output's buffer (2 s) plus the look-ahead (1 s) worth was synthesized.
        assert provider.jobs_started <= 12
        assert not events.of(RequestFinished)
        narrator.stop()


async def test_aclose_leaves_no_task_behind(output: ClockedOutput) -> None:
    before = asyncio.all_tasks()
    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE))
    narrator = Narrator(output=output, providers=registry, default_voice=tone("440"))
    await narrator.start()
    events = Recorder(narrator)
    handle = narrator.speak(SpeakRequest(text="Some words to speak. " * 20))
    await events.first_audio()
    await narrator.aclose()
    assert isinstance(await handle.wait(), RequestCanceled)
    assert asyncio.all_tasks() == before


async def test_cancel_after_everything_was_written_still_silences(
    narrator: Narrator, output: ClockedOutput
) -> None:
    """The worker then waits for the last sample; cancelling that wait must cut the sound."""
    events = Recorder(narrator)
    text = "Short enough to fit in the output buffer whole."  # 0.47 s: well under 2 s of buffer
    handle = narrator.speak(SpeakRequest(text=text))
    await events.first_audio()
    assert narrator.cancel(handle.request_id)
    assert isinstance(await handle.wait(), RequestCanceled)
    (utterance,) = output.utterances
    assert utterance.discarded
    assert len(utterance.samples) < len(text) * 0.01 * RATE


async def test_progress_is_measured_against_the_texts_length(
    narrator: Narrator, tmp_path: Path
) -> None:
    """A text request says its length at the start; a document once it was read to the end."""
    events = Recorder(narrator)
    text = "First sentence here. Second one follows."
    assert isinstance(await narrator.speak(SpeakRequest(text=text)).wait(), RequestFinished)
    assert [e.length for e in events.of(RequestStarted)] == [len(text)]
    assert events.of(TextEnded) == []  # known from the start: nothing to announce
    book = tmp_path / "book.txt"
    book.write_text("Chapter one is short. " * 40, encoding="utf-8")
    handle = narrator.speak(SpeakRequest(source=book))
    assert isinstance(await handle.wait(), RequestFinished)
    assert events.of(RequestStarted)[-1].length is None
    assert [e.length for e in events.of(TextEnded)] == [len("Chapter one is short. " * 40)]


async def test_each_language_is_read_by_its_own_voice(output: ClockedOutput) -> None:
    """French paragraphs go to the French voice, English to the default; a language without a
    voice (German here) is read by the default voice, and the listener is told once."""
    from voxtray.core.text.language import LanguageVoices
    from voxtray.core.text.prepare import TextOptions, TextPreparer

    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=0.01, chunk_seconds=0.05))
    preparer = TextPreparer(TextOptions(), voices=LanguageVoices("en", {"fr": {"tone": "660"}}))
    narrator = Narrator(
        output=output,
        providers=registry,
        default_voice=tone("440"),
        settings=WorkerSettings(lookahead_seconds=2.0, first_clause_chars=400, text=preparer),
    )
    english = "The quick brown fox jumps over the lazy dog while the farmer watches."
    french = "Le renard brun rapide saute par-dessus le chien paresseux du fermier."
    german = "Der schnelle braune Fuchs springt über den faulen Hund des alten Bauern."
    async with narrator:
        events = Recorder(narrator)
        text = f"{english}\n\n{french}\n\n{german}\n\n{german}"
        assert isinstance(await narrator.speak(SpeakRequest(text=text)).wait(), RequestFinished)
    pitches = [round(f / 10) * 10 for f in frequencies(output.utterances[-1].samples, 0.05)]
    runs = [pitch for pitch, _ in itertools.groupby(p for p in pitches if p in (440, 660))]
    assert runs == [440, 660, 440]
    notes = [w.message for w in events.of(RequestWarning) if "German" in w.message]
    assert len(notes) == 1, events.of(RequestWarning)
