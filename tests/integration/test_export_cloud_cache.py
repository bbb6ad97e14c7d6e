"""Exporting the same text twice with the cloud voice: the second export is made from the audio
cache, so the service gets no synthesis request and bills nothing, and the files are the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile
from voxtray.core.export import ExportOptions, ExportResult, export_narration
from voxtray.core.model import SpeakRequest
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.settings import Settings
from voxtray.core.stats import load_snapshot

from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import KEY, cloud_provider, cloud_settings, numbered_text

TEXT = numbered_text(range(1, 5))


@pytest.fixture
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The audio cache (and the rest) in folders of this test's own."""
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    return tmp_path


def synthesis_requests(fake: FakeElevenLabs) -> list[str]:
    """HTTP synthesis requests (an export speaks over HTTP; the provider's warm-up opens a
    socket, which must carry no text: checked apart)."""
    return [r.path for r in fake.requests if "text-to-speech" in r.path and r.status != 101]


async def export(settings: Settings, target: Path, stats: Path) -> ExportResult:
    registry = ProviderRegistry()
    registry.add(cloud_provider(settings, lambda: KEY))  # closed by the export
    return await export_narration(
        SpeakRequest(text=TEXT),
        ExportOptions(target=target, captions=("srt",)),
        settings=settings,
        providers=registry,
        stats_file=stats,
    )


async def test_a_second_identical_export_comes_from_the_cache(
    private_dirs: Path, fake_elevenlabs: FakeElevenLabs
) -> None:
    fake_elevenlabs.configure(mode="tone")
    settings = cloud_settings(fake_elevenlabs, cache=True, fallback=False)

    first = await export(settings, private_dirs / "first.wav", private_dirs / "first.json")
    requests = synthesis_requests(fake_elevenlabs)
    billed = fake_elevenlabs.billed(KEY)
    assert requests and billed > 0
    first_stats = load_snapshot(private_dirs / "first.json")
    assert first_stats is not None and first_stats.cache_hits == 0

    second = await export(settings, private_dirs / "second.wav", private_dirs / "second.json")
    assert synthesis_requests(fake_elevenlabs) == requests  # not one more
    assert fake_elevenlabs.billed(KEY) == billed
    assert all(not socket.contexts for socket in fake_elevenlabs.websocket_contexts)
    second_stats = load_snapshot(private_dirs / "second.json")
    assert second_stats is not None
    assert second_stats.cache_hits == first_stats.cache_misses == len(requests)
    assert second_stats.cache_misses == 0

    one, _rate = soundfile.read(first.audio[0], dtype="int16")
    two, _rate = soundfile.read(second.audio[0], dtype="int16")
    assert len(one) > 0 and (one == two).all()  # the same audio, sample for sample
    srt = [
        path.with_suffix(".srt").read_text(encoding="utf-8")
        for path in (*first.audio, *second.audio)
    ]
    assert srt[0] == srt[1]
