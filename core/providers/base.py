"""What the engine needs of a speech provider.

Providers know nothing of the queue or the player: they turn one :class:`SynthesisJob` into
a stream of PCM chunks. Closing the iterator (``aclose()``, or cancelling the task that iterates
it) must abort the work behind it, so a cancelled request stops costing CPU or money at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..model import AudioChunk, Capabilities, SynthesisJob, Voice


@runtime_checkable
class Provider(Protocol):
    """A source of speech. Implementations: ``PiperProvider``, ``ToneProvider``…"""

    @property
    def id(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def warm(self) -> None:
        """Get ready for the first request (load the voice, open the connection).

        The narrator calls this in the background when it starts, so the first ``speak()``
        does not pay for it; ``synthesize`` must still work (and wait) if it is not done.
        """
        ...

    async def voices(self) -> list[Voice]: ...

    def synthesize(self, job: SynthesisJob) -> AsyncIterator[AudioChunk]:
        """Stream the job's audio. Raises :class:`~voxtray.core.errors.ProviderError`."""
        ...

    async def aclose(self) -> None:
        """Release threads, sessions and sockets. Safe to call twice."""
        ...


@dataclass(frozen=True, slots=True)
class CharacterQuota:
    """A plan's character allowance as the provider last knew it.

    ``used`` is the service's own figure from its last answer plus what the provider billed
    since, so it moves with every request without asking the service each time.
    """

    used: int
    limit: int
    resets_at: float | None = None
    """When the allowance starts again (Unix time), if the service says."""

    @property
    def fraction_used(self) -> float:
        """``used / limit`` (1.0 for a plan without characters)."""
        return self.used / self.limit if self.limit > 0 else 1.0


@dataclass(frozen=True, slots=True)
class ProviderCounters:
    """A provider's own health figures, pulled by the stats at snapshot time.

    Only providers with something to report (network, billing) implement ``counters()``.
    """

    provider: str
    requests: int = 0
    """Synthesis calls sent to the service (cache hits excluded)."""
    characters_billed: int = 0
    """Characters the service said it billed (``character-cost``)."""
    rate_limited: Mapping[str, int] = field(default_factory=dict)
    """429s by kind: ``concurrency``, ``system_busy``, ``rate_limit``."""
    connections_opened: int = 0
    connections_reused: int = 0
    first_byte_seconds: tuple[float, ...] = ()
    """Recent times from sending a request to its first audio byte."""
    concurrency_limit: int = 0
    """The limit in force now (after any AIMD decrease)."""
    quota: CharacterQuota | None = None
    """The plan's characters, once the service told (``None`` before, or if it never does)."""


@runtime_checkable
class ReportsCounters(Protocol):
    def counters(self) -> ProviderCounters: ...


@runtime_checkable
class CachesAudio(Protocol):
    """A provider whose audio is worth keeping: it costs money or time to make again.

    ``cache_identity`` names everything besides the text that shapes the audio (voice, model,
    voice settings, format, the context sent for prosody), so two requests share an entry
    exactly when the service would have produced the same speech.
    """

    async def cache_identity(self, job: SynthesisJob) -> CacheIdentity | None: ...


@dataclass(frozen=True, slots=True)
class CacheIdentity:
    voice: str
    model: str
    settings: Mapping[str, object]
    audio_format: str
    context: str
