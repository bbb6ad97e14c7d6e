"""Soak: 1,000 random commands against the cloud voice while the fake injects random faults.

Seeded, so a failure replays. The output is the clocked one at 200× real time, the fake in tone
mode. Afterwards every request that ``speak()`` accepted has exactly one terminal event, none is
left waiting, no task is left running and the memory held (tracemalloc: the whole process but
the samples the test output keeps, and the in-process fake server, which keeps a record of every
request and connection) is flat: measured at rest every 50 commands, the median of the last
quarter is within a small margin of the first quarter's.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import tracemalloc
from collections import Counter
from collections.abc import Callable

import pytest
from voxtray.core.model import (
    Priority,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestId,
    SpeakRequest,
)

from tests.fakes.clocked_output import ClockedOutput
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import (
    RATE,
    assert_no_leaks,
    cloud_narrator,
    cloud_settings,
    eventually,
    numbered_text,
    other_tasks,
)

pytestmark = pytest.mark.slow

SEED = 20240611
OPERATIONS = 1000
SERVER_SIDE = ("*/tests/fakes/*", "*/aiohttp/*", "*/multidict/*", "*/yarl/*", "*/propcache/*")
"""Where the fake server allocates: its memory is not the client's."""
MEMORY_MARGIN = 1_500_000
"""Bytes the held memory may grow between the first and the last quarter (noise, caches)."""


def faults(fake: FakeElevenLabs, rng: random.Random) -> list[Callable[[], None]]:
    f = fake.faults
    return [
        lambda: f.drop_after(chunks=rng.randint(1, 3), transport=rng.choice(["http", "ws"])),
        lambda: f.server_error(status=rng.choice([500, 502, 503])),
        lambda: f.busy(code="system_busy", retry_after=rng.choice([None, 0.01])),
        lambda: f.malformed(after_chunks=rng.randint(0, 2), transport=rng.choice(["http", "ws"])),
        lambda: f.silent_success(),
        lambda: f.stall(after_chunks=1, transport="http"),
    ]


def drained(terminal: Counter[RequestId], accepted: list[RequestId]) -> bool:
    return all(terminal[r] for r in accepted)


def forget_played(output: ClockedOutput) -> None:
    """The clocked output keeps every sample it played (for other tests): not ours to count."""
    for utterance in output.utterances:
        utterance.frames.clear()
    output.utterances.clear()


async def test_a_thousand_random_operations(fake_elevenlabs: FakeElevenLabs) -> None:
    fake = fake_elevenlabs
    fake.configure(mode="tone", tone_seconds_per_char=0.01)
    fake.add_key("test-key", character_limit=10_000_000)
    rng = random.Random(SEED)
    inject = faults(fake, rng)
    tasks_before = other_tasks()
    settings = cloud_settings(fake, transport="auto", fallback=True)
    output = ClockedOutput(sample_rate=RATE, speed=200.0)
    narrator, _, _ = cloud_narrator(settings, output, seconds_per_char=0.01, stall_timeout=0.3)
    terminal: Counter[RequestId] = Counter()
    accepted: list[RequestId] = []
    memory: list[int] = []
    tracemalloc.start()
    try:
        async with narrator:
            narrator.add_listener(
                lambda e: (
                    terminal.update([e.request_id])
                    if isinstance(e, RequestFinished | RequestFailed | RequestCanceled)
                    else None
                )
            )
            for number in range(OPERATIONS):
                if rng.random() < 0.08:
                    rng.choice(inject)()
                op = rng.choices(
                    ["speak", "interrupt", "cancel", "stop", "skip", "pause"],
                    weights=[45, 10, 15, 8, 15, 7],
                )[0]
                if op in ("speak", "interrupt"):
                    count = rng.randint(1, 3)
                    text = numbered_text(rng.randint(1, 9) for _ in range(count))
                    handle = narrator.speak(
                        SpeakRequest(
                            text=text,
                            priority=rng.choice(list(Priority)),
                            interrupt=op == "interrupt",
                        )
                    )
                    accepted.append(handle.request_id)
                elif op == "cancel" and accepted:
                    narrator.cancel(rng.choice(accepted[-10:]))
                elif op == "stop":
                    narrator.stop()
                elif op == "skip":
                    narrator.skip()
                elif op == "pause":
                    narrator.pause()
                    await asyncio.sleep(rng.uniform(0, 0.01))
                    narrator.resume()
                # Commands come faster than speech ends, as from an impatient user.
                await asyncio.sleep(rng.uniform(0, 0.02))
                if number % 50 == 49:  # at rest: everything so far has ended
                    assert await eventually(lambda: drained(terminal, accepted), within=60)
                    forget_played(output)
                    gc.collect()
                    memory.append(held_by_the_client())
            # Drain: everything accepted ends by itself (faults off from here).
            fake.faults.clear()
            assert await eventually(lambda: drained(terminal, accepted), within=60)
            stats = narrator.stats()
    finally:
        tracemalloc.stop()
    await assert_no_leaks(fake, tasks_before)

    assert len(accepted) > 400
    missing = [r for r in accepted if terminal[r] == 0]
    repeated = {r: n for r, n in terminal.items() if n != 1}
    assert not missing, f"requests without an outcome: {missing[:10]}"
    assert not repeated, f"requests with more than one outcome: {repeated}"
    assert set(terminal) == set(accepted)
    assert output.overlaps == 0  # never two utterances at once

    quarter = len(memory) // 4
    first, last = statistics.median(memory[:quarter]), statistics.median(memory[-quarter:])
    print(
        f"soak: {len(accepted)} requests, {stats.retries} retries, {stats.fallbacks} fallbacks; "
        f"traced memory {first / 1e6:.2f} MB → {last / 1e6:.2f} MB"
    )
    assert last - first < MEMORY_MARGIN, f"memory grew by {(last - first) / 1e6:.2f} MB"


def held_by_the_client() -> int:
    """Bytes traced now, less what the in-process fake server holds."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, pattern) for pattern in SERVER_SIDE]
        + [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))
