"""The providers a narrator can speak with, by id.

Providers are created lazily: ``voxtray voices --provider tone`` must not load a Piper model, and
a cloud provider must not open a connection until someone asks for it. Factories are registered
up front; the first ``get`` creates and owns the instance until ``aclose``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..errors import VoiceNotFoundError
from .base import Provider

ProviderFactory = Callable[[], Provider]


class ProviderRegistry:
    """Creates each provider once, on first use, and closes them all at the end."""

    def __init__(self, factories: dict[str, ProviderFactory] | None = None) -> None:
        self._factories: dict[str, ProviderFactory] = dict(factories or {})
        self._instances: dict[str, Provider] = {}

    def register(self, provider_id: str, factory: ProviderFactory) -> None:
        if provider_id in self._instances:
            raise RuntimeError(f"provider {provider_id!r} is already in use")
        self._factories[provider_id] = factory

    def add(self, provider: Provider) -> None:
        """Register an already-built provider (tests, benchmarks)."""
        self._instances[provider.id] = provider
        self._factories[provider.id] = lambda: provider

    @property
    def ids(self) -> list[str]:
        return sorted(self._factories)

    def created(self) -> list[Provider]:
        """The providers in use so far (not those only registered)."""
        return list(self._instances.values())

    def get(self, provider_id: str) -> Provider:
        instance = self._instances.get(provider_id)
        if instance is None:
            factory = self._factories.get(provider_id)
            if factory is None:
                known = ", ".join(self.ids) or "none"
                raise VoiceNotFoundError(f"There is no speech provider “{provider_id}” ({known}).")
            instance = factory()
            self._instances[provider_id] = instance
        return instance

    async def aclose(self) -> None:
        instances = list(self._instances.values())
        self._instances.clear()
        await asyncio.gather(*(provider.aclose() for provider in instances))
