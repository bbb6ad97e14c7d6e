"""``FakeElevenLabs``: the fake served by aiohttp on 127.0.0.1 from a thread with its own loop.

The client under test runs on the test's event loop; the fake runs on its own loop in a background
thread, and synthesis runs on the fake's worker threads, so neither side can stall the other. All
controls (keys, faults, config) are thread-safe and may be called from the test's thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import fields
from types import TracebackType
from typing import Any

from aiohttp import web

from .catalog import ConcurrencyGroup
from .core import FakeCore
from .faults import FakeConfig, Faults, Mode
from .protocol import fingerprint
from .rest import RestApi
from .sockets import StreamInputApi
from .state import ConnectionRecord, FakeState, RequestRecord
from .synth import Synthesizer

_LOG = logging.getLogger(__name__)

KeySpec = tuple[str, str, int]
DEFAULT_KEYS: tuple[KeySpec, ...] = (("test-key", "free", 10_000),)


class FakeElevenLabs:
    """A local stand-in for api.elevenlabs.io (REST + input-streaming WebSockets).

    Use it as a context manager, or ``start()``/``stop()``; ``reset()`` returns it to its initial
    state (keys, faults, config, logs) and aborts whatever is still running.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: Mode = "speech",
        keys: Iterable[KeySpec] = DEFAULT_KEYS,
        concurrency: int | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._initial_mode: Mode = mode
        self._initial_keys = tuple(keys)
        self._concurrency_override = concurrency
        self.state = FakeState()
        self.faults = Faults()
        self.config = FakeConfig(mode=mode)
        self._synth = Synthesizer()
        self._core = FakeCore(self.state, self.faults, self.config, self._synth)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.port = 0
        self._add_initial_keys()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeElevenLabs:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="fake-elevenlabs", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise RuntimeError("the ElevenLabs fake could not start") from self._startup_error
        if self._initial_mode == "speech":
            self._synth.warm()
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._synth.close()
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeElevenLabs:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Abort running requests and sockets, then restore keys, faults, config and logs."""
        if self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._cancel_live(), self._loop).result(timeout=10)
        self.state.clear()
        self.faults.clear()
        fresh = FakeConfig(mode=self._initial_mode)
        for f in fields(fresh):
            setattr(self.config, f.name, getattr(fresh, f.name))
        self._add_initial_keys()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_base_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    # -- keys and accounts --------------------------------------------------------------------

    def add_key(
        self,
        key: str,
        tier: str = "free",
        character_limit: int = 10_000,
        concurrency: int | None = None,
    ) -> None:
        """Add (or replace) a valid key; ``concurrency`` overrides the tier's limit."""
        self.state.add_key(key, tier, character_limit, concurrency or self._concurrency_override)
        _LOG.debug("key %s added (tier %s)", fingerprint(key), tier)

    def revoke(self, key: str) -> None:
        """From now on the key answers 401 invalid_api_key."""
        self.state.revoke(key)

    def exhaust_quota(self, key: str, remaining: int = 0) -> None:
        """Leave the key ``remaining`` characters of balance."""
        self.state.exhaust_quota(key, remaining)

    def set_concurrency(self, key: str, concurrency: int | None) -> None:
        """Override the key's concurrency limit (None: back to the tier's table)."""
        self.state.set_concurrency(key, concurrency)

    def billed(self, key: str) -> int:
        """Characters billed to the key so far (``character_count`` of its subscription)."""
        return self.state.billed(key)

    def in_flight(self, key: str, group: ConcurrencyGroup | None = None) -> int:
        """HTTP generations running now for the key (all models, or one concurrency group)."""
        return self.state.in_flight(key, group)

    def max_in_flight(self, key: str) -> int:
        """The most HTTP generations the key ever had running at once."""
        return self.state.max_in_flight(key)

    @property
    def requests(self) -> list[RequestRecord]:
        return self.state.requests

    @property
    def websocket_contexts(self) -> list[ConnectionRecord]:
        """One record per WebSocket connection, with its contexts and their open/close times."""
        return self.state.connections

    def configure(self, **changes: Any) -> None:
        """Change :class:`FakeConfig` settings (error_format, context_id_key, mode, ...)."""
        self.config.update(**changes)

    def wait_until(
        self, condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.005
    ) -> bool:
        """Poll ``condition`` from a test thread until true or ``timeout``; its last value."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)
        return True

    # -- internals ----------------------------------------------------------------------------

    def _add_initial_keys(self) -> None:
        for key, tier, limit in self._initial_keys:
            self.add_key(key, tier, limit)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        app = web.Application()
        app.add_routes(RestApi(self._core).routes())
        app.add_routes(StreamInputApi(self._core).routes())
        # access_log=None: an access log would print query strings, and a socket may carry the key
        # in ``?authorization=``.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        server = site._server  # the asyncio server: the only place the bound port is known
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def _cancel_live(self) -> None:
        tasks = list(self._core.live)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _shutdown(self) -> None:
        await self._cancel_live()
        if self._runner is not None:
            await self._runner.cleanup()
