"""A segment heard once from the cloud plays again from the cache: no request, nothing billed."""

from __future__ import annotations

from pathlib import Path

from voxtray.core.cache import AudioCache
from voxtray.core.model import RequestFinished, SpeakRequest, VoiceRef
from voxtray.core.narrator import Narrator
from voxtray.core.providers.elevenlabs.provider import ElevenLabsProvider
from voxtray.core.providers.registry import ProviderRegistry

from tests.fakes.clocked_output import ClockedOutput
from tests.fakes.elevenlabs import FakeElevenLabs

KEY = "sk_cache_test_0123456789"
TEXT = "Segment 1 is short. Segment 2 follows it."


async def test_second_time_is_free(tmp_path: Path, fake_elevenlabs: FakeElevenLabs) -> None:
    fake_elevenlabs.add_key(KEY, character_limit=10_000)
    fake_elevenlabs.configure(mode="tone")
    registry = ProviderRegistry()
    registry.add(
        ElevenLabsProvider(lambda: KEY, base_url=fake_elevenlabs.base_url, transport="http")
    )
    cache = AudioCache(tmp_path / "audio.sqlite3")
    narrator = Narrator(
        output=ClockedOutput(sample_rate=22050, speed=40.0),
        providers=registry,
        default_voice=VoiceRef("elevenlabs"),
        cache=cache,
    )
    async with narrator:
        first = await narrator.speak(SpeakRequest(text=TEXT)).wait()
        billed = fake_elevenlabs.billed(KEY)
        requests = len(fake_elevenlabs.requests)
        second = await narrator.speak(SpeakRequest(text=TEXT)).wait()
        stats = narrator.stats()
    assert isinstance(first, RequestFinished) and isinstance(second, RequestFinished)
    assert billed >= len(TEXT.replace(" ", "")) * 0.9
    assert fake_elevenlabs.billed(KEY) == billed
    assert len(fake_elevenlabs.requests) == requests
    assert stats.cache_hits >= 2
    output = narrator._output
    assert isinstance(output, ClockedOutput)
    one, two = (len(u.samples) for u in output.utterances)
    assert abs(one - two) <= 1  # the same audio, played again
