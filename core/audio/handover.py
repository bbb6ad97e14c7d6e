"""Handing playback from one PortAudio stream to another (``Player.reconfigure``).

The pieces of "Switching devices" in :mod:`.player`: each stream gets a
:class:`StreamCallback` of its own, so that one stream can be *retired* — its callback plays
silence and no longer reads the ring — while the ring goes on feeding the new stream. What
runs in the PortAudio thread here follows the player's callback contract: no allocation, no
blocking, no logging; ``loop.call_soon_threadsafe`` is its only way back into the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .player import OutputStream

OutData = npt.NDArray[np.float32]


def _resolve(fut: asyncio.Future[float], when: float) -> None:
    if not fut.done():
        fut.set_result(when)


class Retiring:
    """Tells a retired stream's callback to play silence; see "Switching devices"."""

    __slots__ = ("_loop", "_played", "_told", "drained", "released", "silence")

    def __init__(self, loop: asyncio.AbstractEventLoop, silence: int) -> None:
        self._loop = loop
        self.released: asyncio.Future[float] = loop.create_future()
        """The callback no longer reads the ring (its call that might have is over)."""
        self.drained: asyncio.Future[float] = loop.create_future()
        """It has played ``silence`` frames of silence: its device holds nothing else."""
        self.silence = silence
        self._played = 0  # callback-owned
        self._told = 0  # callback-owned: 1 once released was sent, 2 once drained was

    def fill(self, outdata: OutData, frames: int) -> None:
        """PortAudio thread: the rules of the callback contract in :mod:`.player`."""
        outdata.fill(0.0)
        self._played += frames
        try:
            if self._told == 0:
                self._told = 1
                self._loop.call_soon_threadsafe(_resolve, self.released, time.monotonic())
            if self._told == 1 and self._played >= self.silence:
                self._told = 2
                self._loop.call_soon_threadsafe(_resolve, self.drained, time.monotonic())
        except RuntimeError:
            return  # the loop is closed: nobody waits any more


class StreamCallback:
    """One stream's callback: the player's, until the stream is retired."""

    __slots__ = ("_play", "retiring")

    def __init__(self, play: Callable[[OutData, int, Any, Any], None]) -> None:
        self._play = play
        self.retiring: Retiring | None = None
        """Set once, by the loop (an atomic assignment the callback reads on each call)."""

    def __call__(self, outdata: OutData, frames: int, time_info: Any, status: Any) -> None:
        retiring = self.retiring
        if retiring is None:
            self._play(outdata, frames, time_info, status)
        else:
            retiring.fill(outdata, frames)


async def settled_within(future: asyncio.Future[float], seconds: float) -> bool:
    """Whether ``future`` resolves within ``seconds`` (it is not cancelled if not)."""
    try:
        async with asyncio.timeout(seconds):
            await asyncio.shield(future)
    except TimeoutError:
        return False
    return True


def retrieve(task: asyncio.Task[None]) -> None:
    """Mark a task's outcome as seen: whoever awaited it has it (or was cancelled meanwhile)."""
    if not task.cancelled():
        task.exception()


def let_go(stream: OutputStream) -> None:
    """Abort and close a stream we are done with, whatever that raises (it may be broken)."""
    for step in (stream.abort, stream.close):
        with contextlib.suppress(Exception):
            step()
