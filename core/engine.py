"""Builds a ready-to-start :class:`Narrator` from the user's settings.

The CLI, the tray app and the benchmarks all assemble the engine the same way here, so that
what a benchmark measures is what a user runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .audio.output import AudioOutput
from .audio.player import Player
from .cache import AudioCache
from .model import VoiceRef
from .narrator import Narrator
from .orchestrator.playback import Pauses
from .orchestrator.worker import WorkerSettings
from .paths import data_dir
from .providers.elevenlabs.provider import ElevenLabsProvider, Transport
from .providers.piper import DEFAULT_VOICE_ID, PiperProvider
from .providers.registry import ProviderRegistry
from .providers.tone import ToneProvider
from .resume import ResumeStore
from .secrets import Secret, aget_api_key, get_api_key
from .settings import Settings
from .text.prepare import TextOptions, TextPreparer

BASE_URL_VARIABLE = "VOXTRAY_ELEVENLABS_BASE_URL"


class ApiKeyHolder:
    """The ElevenLabs key as the provider asks for it: on the event loop, many times.

    The keyring is read once (a D-Bus round trip, or a prompt for a locked keyring), ideally
    through :meth:`aload` before the first request so the loop never waits on it, and again
    after :meth:`invalidate` when the user changes the key.
    """

    def __init__(self, service: str = "elevenlabs") -> None:
        self._service = service
        self._secret: Secret | None = None
        self._loaded = False
        self._generation = 0

    @property
    def loaded(self) -> bool:
        """Whether the key was read since the last :meth:`invalidate` (no keyring read due)."""
        return self._loaded

    @property
    def masked(self) -> str | None:
        """The loaded key as the user may see it (``••••abcd``), ``None`` when there is none."""
        return self._secret.masked if self._secret is not None else None

    def __call__(self) -> str | None:
        if not self._loaded:
            self._secret = get_api_key(self._service)
            self._loaded = True
        return self._secret.reveal() if self._secret is not None else None

    async def aload(self) -> None:
        """Read the key in a worker thread. A read that an :meth:`invalidate` overtook is
        dropped: it may have seen the key that was just replaced."""
        generation = self._generation
        secret = await aget_api_key(self._service)
        if generation == self._generation:
            self._secret = secret
            self._loaded = True

    def invalidate(self) -> None:
        self._secret = None
        self._loaded = False
        self._generation += 1


def elevenlabs_base_url(settings: Settings) -> str:
    """The API base URL: ``VOXTRAY_ELEVENLABS_BASE_URL`` wins over the settings."""
    return os.environ.get(BASE_URL_VARIABLE) or settings.elevenlabs.base_url


def default_providers(
    settings: Settings, *, concurrency: int = 1, api_key: ApiKeyHolder | None = None
) -> ProviderRegistry:
    """Every provider the app knows, created on first use."""
    engine = settings.engine
    cloud = settings.elevenlabs
    key = api_key or ApiKeyHolder()
    return ProviderRegistry(
        {
            "elevenlabs": lambda: ElevenLabsProvider(
                key,
                base_url=elevenlabs_base_url(settings),
                model_id=cloud.model,
                sample_rate=cloud.sample_rate,
                transport=_transport(cloud.transport),
                concurrency_limit=cloud.concurrency or None,
                default_voice=cloud.voice,
            ),
            "piper": lambda: PiperProvider(
                default_voice=local_voice(settings).voice_id or DEFAULT_VOICE_ID,
                voices_dir=data_dir() / "voices",
                threads=engine.synthesis_threads,
                concurrency=concurrency,
            ),
            "tone": ToneProvider,
        }
    )


def export_providers(
    settings: Settings, *, spare_cores: int = 0, api_key: ApiKeyHolder | None = None
) -> ProviderRegistry:
    """Providers for an export: no sound card to keep a core free for, so the local voice
    synthesizes as many segments at once as there are cores (one onnxruntime thread each,
    which measured faster than one segment on every core: docs/PERFORMANCE.md).

    ``spare_cores`` are left to others: the tray app exports beside its live voice, which must
    keep up with the sound card.
    """
    concurrency = max(1, (os.cpu_count() or 1) - spare_cores)
    return default_providers(settings, concurrency=concurrency, api_key=api_key)


def sound_output(
    settings: Settings, *, on_device_change: Callable[[str, str], None] | None = None
) -> Player:
    """The sound card output as ``[audio]`` describes it (not opened yet)."""
    audio = settings.audio
    player = Player(
        device=audio.device or None,
        latency=audio.latency,
        buffer_seconds=audio.buffer_seconds,
        on_device_change=on_device_change,
    )
    player.volume = audio.volume
    return player


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
        output = sound_output(settings, on_device_change=device_changed)
    cache = None
    if settings.cache.enabled:
        cache = AudioCache(max_bytes=settings.cache.max_megabytes * 1024 * 1024)
    narrator = Narrator(
        output=output,
        providers=providers or default_providers(settings),
        default_voice=voice or settings.voice.ref,
        settings=WorkerSettings(
            lookahead_seconds=settings.engine.lookahead_seconds,
            first_clause_chars=settings.engine.first_clause_chars,
            interactive=interactive,
            resume=ResumeStore() if interactive else None,
            fallback_voice=local_voice(settings) if settings.elevenlabs.fallback_to_local else None,
            text=text_preparer(settings),
            pauses=Pauses(settings.voice.sentence_pause, settings.voice.paragraph_pause),
        ),
        warm=warm,
        cache=cache,
    )
    return narrator


def text_preparer(settings: Settings) -> TextPreparer:
    """The ``[text]`` settings with the user's pronunciation rules and language voices."""
    return TextPreparer.load(text_options(settings))


def text_options(settings: Settings) -> TextOptions:
    text = settings.text
    return TextOptions(
        expand_for_local_voice=text.expand_for_local_voice,
        code="skip" if text.code == "skip" else "read" if text.code == "read" else "announce",
        emoji="drop" if text.emoji == "drop" else "name",
        detect_language=text.detect_language,
        min_language_chars=text.min_language_chars,
    )


def local_voice(settings: Settings) -> VoiceRef:
    """The embedded voice: the user's own choice of it, else the bundled default."""
    if settings.voice.provider == "piper" and settings.voice.voice:
        return VoiceRef("piper", settings.voice.voice)
    return VoiceRef("piper", DEFAULT_VOICE_ID)


def _transport(value: str) -> Transport:
    if value == "http":
        return "http"
    if value == "websocket":
        return "websocket"
    return "auto"
