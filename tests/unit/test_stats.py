"""Statistics: counting events once, latency percentiles, snapshots and their files."""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from voxtray.core import stats as stats_module
from voxtray.core.errors import ErrorCategory, VoxTrayError
from voxtray.core.model import (
    Event,
    FirstAudio,
    OutputDeviceChanged,
    Priority,
    ProviderFellBack,
    Repositioned,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestId,
    RequestQueued,
    RequestStarted,
    RequestWarning,
    SegmentAudible,
    SpeechProgress,
    SynthesisRetried,
    TextEnded,
    VoiceRef,
)
from voxtray.core.stats import (
    LATENCY_WINDOW,
    RECENT_LATENCIES,
    BreakerView,
    LatencySummary,
    OutputInfo,
    StatsRecorder,
    StatsSnapshot,
    load_snapshot,
    percentile,
    save_snapshot,
)

SEED_ENDPOINT_FIELDS = {
    "total_requests",
    "successful_requests",
    "failed_requests",
    "canceled_requests",
    "rate_limit_errors",
    "queue_size",
    "current_request",
    "worker_running",
}


@dataclass(frozen=True)
class FakeOutputCounters:
    """Shaped like ``audio.output.OutputCounters``."""

    underruns: int
    gap_seconds: float
    frames_played: int
    device: str
    sample_rate: int
    latency: float


class FakeClocks:
    def __init__(self) -> None:
        self.monotonic = 100.0
        self.wall = 1_700_000_000.0


@pytest.fixture
def clocks() -> FakeClocks:
    return FakeClocks()


@pytest.fixture
def recorder(clocks: FakeClocks) -> StatsRecorder:
    return StatsRecorder(clock=lambda: clocks.monotonic, wall_clock=lambda: clocks.wall)


def rid(number: int) -> RequestId:
    return RequestId(number)


def queued(number: int) -> RequestQueued:
    return RequestQueued(
        request_id=rid(number), label=f"request {number}", priority=Priority.NORMAL
    )


def started(number: int) -> RequestStarted:
    return RequestStarted(request_id=rid(number), voice=VoiceRef("piper"))


def heard(number: int, latency: float) -> FirstAudio:
    return FirstAudio(request_id=rid(number), latency=latency)


def segment(number: int, index: int, start: int, end: int) -> SegmentAudible:
    return SegmentAudible(request_id=rid(number), segment_index=index, start=start, end=end)


def finished(number: int) -> RequestFinished:
    return RequestFinished(request_id=rid(number))


def failed(number: int) -> RequestFailed:
    return RequestFailed(
        request_id=rid(number), reason="The voice failed.", category=ErrorCategory.CONFIGURATION
    )


def canceled(number: int) -> RequestCanceled:
    return RequestCanceled(request_id=rid(number))


def take(recorder: StatsRecorder, **overrides: object) -> StatsSnapshot:
    arguments: dict[str, object] = {
        "queue_size": 0,
        "current_request": None,
        "current_label": None,
        "worker_running": True,
        "output": None,
    }
    arguments |= overrides
    return recorder.snapshot(**arguments)  # type: ignore[arg-type]


def feed(recorder: StatsRecorder, *events: Event) -> None:
    for event in events:
        recorder.observe(event)


def test_a_fresh_recorder(recorder: StatsRecorder, clocks: FakeClocks) -> None:
    snapshot = take(recorder, worker_running=False)
    assert snapshot == StatsSnapshot(worker_running=False, taken_at=clocks.wall)
    assert snapshot.time_to_first_audio == LatencySummary(None, None, None, 0)
    assert snapshot.output is None


def test_a_request_from_queue_to_finish(recorder: StatsRecorder) -> None:
    feed(
        recorder,
        queued(1),
        started(1),
        heard(1, 0.25),
        segment(1, 0, 0, 12),
        RequestWarning(request_id=rid(1), message="Fell back to the local voice."),
        segment(1, 1, 13, 40),
        finished(1),
    )
    snapshot = take(recorder)
    assert snapshot.total_requests == 1
    assert snapshot.successful_requests == 1
    assert (snapshot.failed_requests, snapshot.canceled_requests) == (0, 0)
    assert snapshot.segments_played == 2
    assert snapshot.characters_spoken == 12 + 27
    assert snapshot.warnings == 1
    assert snapshot.time_to_first_audio == LatencySummary(0.25, 0.25, 0.25, 1)
    assert snapshot.recent_first_audio == (0.25,)


def test_each_terminal_state_is_counted(recorder: StatsRecorder) -> None:
    feed(recorder, *(queued(n) for n in range(1, 7)))
    feed(recorder, finished(1), failed(2), failed(3), canceled(4), canceled(5), canceled(6))
    snapshot = take(recorder)
    assert snapshot.total_requests == 6
    assert snapshot.successful_requests == 1
    assert snapshot.failed_requests == 2
    assert snapshot.canceled_requests == 3


def test_queued_requests_count_before_they_end(recorder: StatsRecorder) -> None:
    feed(recorder, queued(1), queued(2), started(1))
    snapshot = take(recorder, queue_size=1, current_request=rid(1), current_label="request 1")
    assert snapshot.total_requests == 2
    assert snapshot.successful_requests + snapshot.failed_requests == 0
    assert (snapshot.queue_size, snapshot.current_request) == (1, 1)
    assert snapshot.current_label == "request 1"


terminals = [finished, failed, canceled]


@pytest.mark.parametrize("first", terminals)
@pytest.mark.parametrize("second", terminals)
def test_a_second_terminal_event_is_not_counted(
    recorder: StatsRecorder, first: object, second: object
) -> None:
    assert callable(first)
    assert callable(second)
    feed(recorder, queued(7), started(7), first(7), second(7), first(7))
    snapshot = take(recorder)
    ended = (
        snapshot.successful_requests,
        snapshot.failed_requests,
        snapshot.canceled_requests,
    )
    assert snapshot.total_requests == 1
    assert ended == tuple(int(kind is first) for kind in terminals)


def test_events_after_the_end_of_a_request_are_ignored(recorder: StatsRecorder) -> None:
    feed(recorder, queued(1), finished(1), heard(1, 9.0), segment(1, 0, 0, 50), queued(1))
    snapshot = take(recorder)
    assert snapshot.total_requests == 1
    assert snapshot.time_to_first_audio.count == 0
    assert (snapshot.segments_played, snapshot.characters_spoken) == (0, 0)


def test_a_request_first_seen_mid_way_is_counted_once(recorder: StatsRecorder) -> None:
    feed(recorder, started(3), heard(3, 0.5), canceled(3))
    snapshot = take(recorder)
    assert (snapshot.total_requests, snapshot.canceled_requests) == (1, 1)
    assert snapshot.time_to_first_audio.count == 1


def test_only_the_first_first_audio_of_a_request_is_a_sample(recorder: StatsRecorder) -> None:
    feed(recorder, queued(1), heard(1, 0.3), heard(1, 5.0))
    assert take(recorder).time_to_first_audio == LatencySummary(0.3, 0.3, 0.3, 1)


def test_a_repeated_segment_is_counted_once(recorder: StatsRecorder) -> None:
    feed(recorder, queued(1), segment(1, 0, 0, 10), segment(1, 0, 0, 10), segment(1, 1, 10, 25))
    snapshot = take(recorder)
    assert snapshot.segments_played == 2
    assert snapshot.characters_spoken == 25


def test_events_that_concern_no_request_are_ignored(recorder: StatsRecorder) -> None:
    recorder.observe(OutputDeviceChanged(device="HDMI", reason="unplugged"))
    assert take(recorder) == take(recorder)
    assert take(recorder).total_requests == 0


def test_output_counters_and_uptime(recorder: StatsRecorder, clocks: FakeClocks) -> None:
    clocks.monotonic += 12.5
    clocks.wall += 12.5
    counters = FakeOutputCounters(3, 0.75, 480_000, "Speakers", 48_000, 0.04)
    snapshot = take(recorder, output=counters)
    assert (snapshot.underruns, snapshot.gap_seconds, snapshot.frames_played) == (3, 0.75, 480_000)
    assert snapshot.output == OutputInfo("Speakers", 48_000, 0.04)
    assert snapshot.uptime_seconds == 12.5
    assert snapshot.taken_at == 1_700_000_012.5


def test_latencies_keep_a_bounded_window(recorder: StatsRecorder) -> None:
    latencies = [((n * 7919) % 1009) / 1000 for n in range(1500)]
    for number, latency in enumerate(latencies):
        feed(recorder, queued(number), heard(number, latency), finished(number))
    window = sorted(latencies[-LATENCY_WINDOW:])
    summary = take(recorder).time_to_first_audio
    assert summary.count == 1500
    assert summary.last == latencies[-1]
    assert summary.p50 == window[499]  # the 500th of 1000
    assert summary.p95 == window[949]  # the 950th of 1000
    assert take(recorder).recent_first_audio == tuple(latencies[-RECENT_LATENCIES:])


def reference_percentile(samples: list[float], percent: int) -> float:
    """The smallest sample that at least ``percent`` % of the samples do not exceed."""
    return min(
        value
        for value in samples
        if sum(other <= value for other in samples) * 100 >= percent * len(samples)
    )


@given(
    samples=st.lists(st.floats(0.0, 60.0), min_size=1, max_size=200),
    percent=st.integers(0, 100),
)
def test_percentile_matches_its_definition(samples: list[float], percent: int) -> None:
    assert percentile(samples, percent) == reference_percentile(samples, percent)


@pytest.mark.parametrize(
    ("samples", "percent", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 51, 3.0),
        ([4.0, 1.0, 3.0, 2.0], 95, 4.0),
        ([float(n) for n in range(1, 101)], 95, 95.0),
        ([float(n) for n in range(1, 21)], 95, 19.0),
        ([0.7], 0, 0.7),
        ([0.7], 100, 0.7),
    ],
)
def test_percentile_examples(samples: list[float], percent: int, expected: float) -> None:
    assert percentile(samples, percent) == expected


def test_percentile_of_nothing_and_of_nonsense() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_ended_requests_are_remembered_within_bounds(recorder: StatsRecorder) -> None:
    memory = stats_module._ENDED_MEMORY
    for number in range(memory + 10):
        feed(recorder, queued(number), finished(number))
    assert len(recorder._ended) == memory
    assert len(recorder._ended_order) == memory
    assert recorder._live == {}
    feed(recorder, finished(memory + 9))  # a recent one is still recognised
    assert take(recorder).successful_requests == memory + 10


def busy_snapshot(recorder: StatsRecorder) -> StatsSnapshot:
    feed(recorder, queued(1), heard(1, 0.2), segment(1, 0, 0, 5), finished(1))
    feed(recorder, queued(2), heard(2, 0.4), failed(2), queued(3))
    counters = FakeOutputCounters(1, 0.1, 96_000, "Speakers", 48_000, 0.05)
    return take(recorder, queue_size=0, current_request=rid(3), current_label="é", output=counters)


def test_as_dict_is_plain_json_with_the_seed_fields(recorder: StatsRecorder) -> None:
    data = busy_snapshot(recorder).as_dict()
    assert set(data) >= SEED_ENDPOINT_FIELDS
    assert json.loads(json.dumps(data)) == data  # no tuples, dataclasses or enums inside
    assert data["total_requests"] == 3
    assert data["rate_limit_errors"] == 0
    assert data["current_request"] == 3
    assert data["time_to_first_audio"] == {"last": 0.4, "p50": 0.2, "p95": 0.4, "count": 2}
    assert data["recent_first_audio"] == [0.2, 0.4]
    assert data["output"] == {"device": "Speakers", "sample_rate": 48_000, "latency": 0.05}
    assert (data["underruns"], data["frames_played"]) == (1, 96_000)


def test_to_json_and_back(recorder: StatsRecorder) -> None:
    snapshot = busy_snapshot(recorder)
    assert json.loads(snapshot.to_json()) == snapshot.as_dict()
    assert StatsSnapshot.from_json(snapshot.to_json(indent=None)) == snapshot
    assert StatsSnapshot.from_dict(StatsSnapshot().as_dict()) == StatsSnapshot()


def test_from_dict_tolerates_other_versions() -> None:
    loaded = StatsSnapshot.from_dict({"total_requests": 4, "added_in_2030": [1, 2]})
    assert loaded == StatsSnapshot(total_requests=4)


@pytest.mark.parametrize(
    "data",
    [
        {"total_requests": "4"},
        {"total_requests": 4.0},
        {"worker_running": 1},
        {"current_request": True},
        {"recent_first_audio": [0.1, "x"]},
        {"time_to_first_audio": {"p50": "fast"}},
        {"output": {"device": "x", "sample_rate": 48_000.5, "latency": 0.1}},
        {"output": []},
    ],
)
def test_from_dict_rejects_wrong_types(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="should be"):
        StatsSnapshot.from_dict(data)


def test_save_and_load_a_snapshot(tmp_path: Path, recorder: StatsRecorder) -> None:
    snapshot = busy_snapshot(recorder)
    path = tmp_path / "state" / "last-session-stats.json"
    save_snapshot(snapshot, path)
    assert load_snapshot(path) == snapshot
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_snapshot_without_a_file(tmp_path: Path) -> None:
    assert load_snapshot(tmp_path / "none.json") is None


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"underruns": "x"}', b"\xff{}"])
def test_load_snapshot_of_a_damaged_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "stats.json"
    path.write_bytes(content)
    with pytest.raises(VoxTrayError, match=r"statistics saved in .*stats\.json") as caught:
        load_snapshot(path)
    assert isinstance(caught.value.__cause__, ValueError)


def test_save_snapshot_failure_is_an_engine_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(VoxTrayError, match="could not be saved") as caught:
        save_snapshot(StatsSnapshot(), tmp_path / "blocker" / "stats.json")
    assert isinstance(caught.value.__cause__, OSError)


def test_progress_of_a_text_request_follows_what_is_heard(recorder: StatsRecorder) -> None:
    feed(recorder, queued(1), RequestStarted(request_id=rid(1), voice=VoiceRef("tone"), length=80))
    assert take(recorder, current_request=rid(1)).current_progress == 0.0
    feed(recorder, segment(1, 0, 0, 20), segment(1, 1, 20, 60))
    assert take(recorder, current_request=rid(1)).current_progress == 0.25
    feed(recorder, SpeechProgress(request_id=rid(1), offset=40))
    assert take(recorder, current_request=rid(1)).current_progress == 0.5
    feed(recorder, Repositioned(request_id=rid(1), offset=8))  # the listener went back
    assert take(recorder, current_request=rid(1)).current_progress == 0.1
    assert take(recorder).current_progress is None  # nothing plays
    feed(recorder, finished(1))
    assert take(recorder, current_request=rid(1)).current_progress is None


def test_a_documents_progress_is_known_once_it_was_read_to_the_end(
    recorder: StatsRecorder,
) -> None:
    feed(recorder, queued(2), started(2), segment(2, 0, 0, 30), segment(2, 1, 30, 90))
    assert take(recorder, current_request=rid(2)).current_progress is None
    feed(recorder, TextEnded(request_id=rid(2), length=300))
    assert take(recorder, current_request=rid(2)).current_progress == 0.1


def test_provider_health_says_which_voice_fails_and_why(recorder: StatsRecorder) -> None:
    feed(
        recorder,
        SynthesisRetried(
            request_id=rid(1), provider="elevenlabs", attempt=1, delay=0.5, reason="Busy."
        ),
        ProviderFellBack(
            request_id=rid(1),
            from_provider="elevenlabs",
            to_provider="piper",
            reason="The key was refused.",
        ),
    )
    health = take(
        recorder,
        voices=["piper", "elevenlabs"],
        breakers={"elevenlabs": BreakerView(open=True, retry_in=42.0)},
    ).provider_health
    assert health == {
        "elevenlabs": {
            "state": "failing",
            "retry_in": 42.0,
            "last_error": "The key was refused.",
        },
        "piper": {"state": "working"},
    }
    half_open = take(recorder, breakers={"elevenlabs": BreakerView(open=True, retry_in=None)})
    assert half_open.provider_health["elevenlabs"]["state"] == "trying again"
    healed = take(recorder, breakers={"elevenlabs": BreakerView(open=False, retry_in=None)})
    assert healed.provider_health["elevenlabs"]["state"] == "working"
    again = StatsSnapshot.from_json(healed.to_json())
    assert again.provider_health == healed.provider_health
