"""The whole engine through a real PortAudio stream into a PulseAudio null sink, recorded.

These are the checks a listener would make: speech comes out, all of it, in order, without
gaps that the text does not have, and it stops when told to.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from voxtray.core.audio.player import Player
from voxtray.core.model import (
    AudioChunk,
    Capabilities,
    Event,
    FirstAudio,
    RequestCanceled,
    RequestFinished,
    SpeakRequest,
    SynthesisJob,
    Voice,
    VoiceRef,
)
from voxtray.core.narrator import Narrator
from voxtray.core.providers.piper import PiperProvider
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider

from tests.harness.pulse import PulseServer, Recording
from tests.harness.signal import db, dominant_frequency, gaps, last_sound, sound_spans

pytestmark = pytest.mark.sound

TEXT = (
    "Narration is a craft of patience. A good reader keeps a steady pace, pausing at commas, "
    "and a little longer at the end of every sentence. Listeners notice every gap. "
    "They notice every clipped word, too."
)


class RecordingProvider:
    """Wraps a provider and keeps every chunk it produced, in order, per segment."""

    def __init__(self, inner: PiperProvider) -> None:
        self._inner = inner
        self.produced: dict[int, list[AudioChunk]] = {}

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def capabilities(self) -> Capabilities:
        return self._inner.capabilities

    async def warm(self) -> None:
        await self._inner.warm()

    async def voices(self) -> list[Voice]:
        return await self._inner.voices()

    async def synthesize(self, job: SynthesisJob) -> AsyncIterator[AudioChunk]:
        chunks = self.produced.setdefault(job.segment.index, [])
        async for chunk in self._inner.synthesize(job):
            chunks.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()

    def audio(self) -> tuple[np.ndarray, int]:
        chunks = [c for index in sorted(self.produced) for c in self.produced[index]]
        pcm = b"".join(c.pcm for c in chunks)
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0, chunks[0].sample_rate


@pytest.fixture
async def piper_narrator(pulse: PulseServer) -> AsyncIterator[tuple[Narrator, RecordingProvider]]:
    provider = RecordingProvider(PiperProvider())
    registry = ProviderRegistry()
    registry.add(provider)
    narrator = Narrator(output=Player(), providers=registry, default_voice=VoiceRef("piper"))
    async with narrator:
        await provider.warm()
        yield narrator, provider


@pytest.fixture
async def tone_narrator(pulse: PulseServer) -> AsyncIterator[Narrator]:
    registry = ProviderRegistry()
    registry.add(ToneProvider(seconds_per_char=0.02))
    async with Narrator(
        output=Player(), providers=registry, default_voice=VoiceRef("tone", "440")
    ) as narrator:
        yield narrator


@pytest.mark.piper
async def test_speech_comes_out_whole_and_without_gaps(
    pulse: PulseServer, piper_narrator: tuple[Narrator, RecordingProvider]
) -> None:
    narrator, provider = piper_narrator
    with pulse.recorder() as recorder:
        outcome = await narrator.speak(SpeakRequest(text=TEXT)).wait()
        await asyncio.sleep(0.3)  # record the device's tail after the callback finished
    assert isinstance(outcome, RequestFinished)
    heard = recorder.result
    made, made_rate = provider.audio()

    threshold = db(-45)
    heard_spans = sound_spans(heard.samples, heard.rate, threshold=threshold)
    made_spans = sound_spans(made, made_rate, threshold=threshold)
    assert heard_spans, "no speech was heard"
    heard_length = heard_spans[-1].end - heard_spans[0].start
    made_length = made_spans[-1].end - made_spans[0].start
    # All of the speech came out: its length matches what the voice made within 5 %.
    assert heard_length == pytest.approx(made_length, rel=0.05)
    # No silence inside the utterance longer than the pauses the voice itself put there.
    longest_made_pause = max((g.duration for g in gaps(made_spans)), default=0.0)
    longest_heard_pause = max((g.duration for g in gaps(heard_spans)), default=0.0)
    assert longest_heard_pause <= longest_made_pause + 0.03
    assert narrator.stats().underruns == 0


async def test_queued_requests_come_out_whole_and_in_order(
    pulse: PulseServer, tone_narrator: Narrator
) -> None:
    pitches = [330, 550, 770]
    with pulse.recorder() as recorder:
        handles = [
            tone_narrator.speak(SpeakRequest(text="x" * 25, voice=VoiceRef("tone", str(p))))
            for p in pitches
        ]
        for handle in handles:
            assert isinstance(await handle.wait(), RequestFinished)
        await asyncio.sleep(0.3)
    heard = recorder.result
    spans = sound_spans(heard.samples, heard.rate, threshold=db(-30), min_gap=0.02)
    assert len(spans) == 3
    for span, pitch in zip(spans, pitches, strict=True):
        assert span.duration == pytest.approx(25 * 0.02, abs=0.02)
        part = heard.samples[int(span.start * heard.rate) : int(span.end * heard.rate)]
        assert abs(dominant_frequency(part, heard.rate) - pitch) < 5


async def test_stop_silences_within_50_ms(pulse: PulseServer, tone_narrator: Narrator) -> None:
    events: list[Event] = []
    started = asyncio.Event()

    def seen(event: Event) -> None:
        events.append(event)
        if isinstance(event, FirstAudio):
            started.set()

    tone_narrator.add_listener(seen)
    with pulse.recorder() as recorder:
        handle = tone_narrator.speak(SpeakRequest(text="x" * 300))
        await started.wait()
        await asyncio.sleep(0.5)  # let it play for a while, then cut it off mid-tone
        stopped_at = time.monotonic()
        tone_narrator.stop()
        assert isinstance(await handle.wait(), RequestCanceled)
        await asyncio.sleep(0.5)
    silence_after = sound_continued_for(recorder.result, stopped_at)
    print(f"stop → silence: {silence_after * 1000:.1f} ms")
    assert silence_after <= 0.05


def sound_continued_for(heard: Recording, since: float) -> float:
    """Seconds from ``since`` (monotonic) to the last non-silent sample of the recording."""
    end = last_sound(heard.samples, heard.rate, threshold=db(-50))
    assert end is not None, "nothing was heard at all"
    return heard.start + end - since


def test_ctrl_c_silences_and_exits_130(pulse: PulseServer, tmp_path: Path) -> None:
    env = dict(os.environ, **pulse.client_env)
    marker = f"x{tmp_path.name}" * 20  # a long text that also names this very process
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    with pulse.recorder() as recorder:
        process = subprocess.Popen(
            [sys.executable, "-m", "voxtray.core.cli", "speak", "--provider", "tone", marker],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert recorder.wait_for_sound(0.1, timeout=30), "the CLI never started speaking"
        time.sleep(0.3)
        interrupted_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
        time.sleep(0.3)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    silence_after = sound_continued_for(recorder.result, interrupted_at)
    print(f"Ctrl+C → silence: {silence_after * 1000:.1f} ms")
    assert silence_after <= 0.05
    # Nothing left behind: no process runs with the CLI's command line any more.
    leftovers = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == ""
