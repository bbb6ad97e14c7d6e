"""Builds a ready-to-start :class:`Narrator` from the user's settings.

The CLI, the tray app and the benchmarks all assemble the engine the same way here, so that
what a benchmark measures is what a user runs.
"""

from __future__ import annotations

from collections.abc import Callable

from .audio.output import AudioOutput
from .audio.player import Player
from .model import VoiceRef
from .narrator import Narrator
from .orchestrator.worker import WorkerSettings
from .paths import data_dir
from .providers.piper import PiperProvider
from .providers.registry import ProviderRegistry
from .providers.tone import ToneProvider
from .settings import Settings


def default_providers(settings: Settings, *, concurrency: int = 1) -> ProviderRegistry:
    """Every provider the app knows, created on first use."""
    engine = settings.engine
    return ProviderRegistry(
        {
            "piper": lambda: PiperProvider(
                default_voice=settings.voice.voice
                if settings.voice.provider == "piper" and settings.voice.voice
                else "en_US-joe-medium",
                voices_dir=data_dir() / "voices",
                threads=engine.synthesis_threads,
                concurrency=concurrency,
            ),
            "tone": ToneProvider,
        }
    )


def build_narrator(
    settings: Settings,
    *,
    output: AudioOutput | None = None,
    providers: ProviderRegistry | None = None,
    voice: VoiceRef | None = None,
    warm: bool = True,
    on_device_change: Callable[[str, str], None] | None = None,
    interactive: bool = True,
) -> Narrator:
    """A narrator speaking through the sound card (or ``output``) with the configured voice.

    ``interactive=False`` (export) means nobody waits for the first sentence: no segment is
    urgent, so a cloud voice batches everything over HTTP.
    """
    narrator: Narrator | None = None

    def device_changed(device: str, reason: str) -> None:
        if narrator is not None:
            narrator.device_changed(device, reason)
        if on_device_change is not None:
            on_device_change(device, reason)

    if output is None:
        audio = settings.audio
        output = Player(
            device=audio.device or None,
            latency=audio.latency,
            buffer_seconds=audio.buffer_seconds,
            on_device_change=device_changed,
        )
        output.volume = audio.volume
    narrator = Narrator(
        output=output,
        providers=providers or default_providers(settings),
        default_voice=voice or settings.voice.ref,
        settings=WorkerSettings(
            lookahead_seconds=settings.engine.lookahead_seconds,
            first_clause_chars=settings.engine.first_clause_chars,
            interactive=interactive,
        ),
        warm=warm,
    )
    return narrator
