"""What every handler shares: state, faults, config, the synthesizer and the live connections."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .faults import FakeConfig, Faults
from .protocol import error_body, new_request_id
from .state import FakeState
from .synth import Synthesizer


@dataclass
class FakeCore:
    state: FakeState
    faults: Faults
    config: FakeConfig
    synth: Synthesizer
    live: set[asyncio.Task[Any]] = field(default_factory=set)
    """Handler tasks still running; ``reset()`` cancels them so nothing leaks between tests."""

    def error(
        self,
        http_status: int,
        status: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        body = error_body(
            status, message, error_format=self.config.error_format, request_id=new_request_id()
        )
        return web.json_response(body, status=http_status, headers=headers)


def parse_output_format(value: str | None) -> int | None:
    """The PCM rate of an ``output_format`` (the fake serves PCM only), or None."""
    from .catalog import PCM_RATES

    value = value or "mp3_44100_128"
    if not value.startswith("pcm_"):
        return None
    try:
        rate = int(value.removeprefix("pcm_"))
    except ValueError:
        return None
    return rate if rate in PCM_RATES else None
