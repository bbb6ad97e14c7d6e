"""The engine under test, assembled exactly as the app assembles it (``build_narrator``).

The benchmarks keep a handle on the output they pass in, so they can read its counters (the
player's device xruns are not part of the narrator's stats snapshot).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from voxtray.core.audio.output import AudioOutput
from voxtray.core.audio.player import Player
from voxtray.core.engine import build_narrator, default_providers
from voxtray.core.model import Event, FirstAudio, RequestId, VoiceRef
from voxtray.core.narrator import Narrator
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.settings import Settings

PIPER = VoiceRef("piper")
WAIT_LIMIT = 30.0
"""Seconds a benchmark waits for a first sound before it gives up."""


def player_for(settings: Settings) -> Player:
    """The sound card output with the user's audio settings, as ``build_narrator`` makes it."""
    audio = settings.audio
    player = Player(
        device=audio.device or None, latency=audio.latency, buffer_seconds=audio.buffer_seconds
    )
    player.volume = audio.volume
    return player


@asynccontextmanager
async def running_narrator(
    output: AudioOutput,
    *,
    settings: Settings | None = None,
    providers: ProviderRegistry | None = None,
    voice: VoiceRef = PIPER,
) -> AsyncIterator[Narrator]:
    """A started narrator whose voice is loaded (warm) before the first request."""
    settings = settings or Settings()
    registry = providers or default_providers(settings)
    narrator = build_narrator(settings, output=output, providers=registry, voice=voice)
    async with narrator:
        await registry.get(voice.provider).warm()
        yield narrator


class FirstAudioWatch:
    """Futures of each request's ``FirstAudio`` latency, fed by a narrator listener."""

    def __init__(self, narrator: Narrator) -> None:
        self._futures: dict[RequestId, asyncio.Future[float]] = {}
        self.remove = narrator.add_listener(self._seen)

    def _future(self, request_id: RequestId) -> asyncio.Future[float]:
        future = self._futures.get(request_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._futures[request_id] = future
        return future

    def _seen(self, event: Event) -> None:
        if isinstance(event, FirstAudio):
            future = self._future(event.request_id)
            if not future.done():
                future.set_result(event.latency)

    async def latency(self, request_id: RequestId) -> float:
        async with asyncio.timeout(WAIT_LIMIT):
            return await self._future(request_id)
