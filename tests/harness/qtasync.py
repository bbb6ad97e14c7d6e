"""Waiting for Qt signals from async tests that run on the qasync loop.

``qtbot.waitSignal`` blocks in a nested Qt event loop. Inside a coroutine that cannot work for
anything the engine does: the test's own task is mid-step, and asyncio refuses to step another
task (the narrator's worker) until it yields. These helpers yield to the loop instead, and
wake on the signal itself, never on a clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import SignalInstance


async def wait_signal(signal: SignalInstance, limit: float = 10.0) -> tuple[Any, ...]:
    """The arguments of the next emission of ``signal``."""
    return await wait_until(signal, lambda *args: True, limit)


async def wait_until(
    signal: SignalInstance, predicate: Callable[..., bool], limit: float = 10.0
) -> tuple[Any, ...]:
    """The arguments of the first emission for which ``predicate(*args)`` is true."""
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def seen(*args: Any) -> None:
        if not future.done() and predicate(*args):
            future.set_result(args)

    signal.connect(seen)
    try:
        return await asyncio.wait_for(future, limit)
    finally:
        signal.disconnect(seen)
