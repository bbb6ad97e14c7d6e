"""The sound card output: one PortAudio stream, fed from a ring buffer by a realtime callback.

Callback contract
=================

Three concurrency contexts touch audio:

1. **The event loop** (the producer). It resamples chunks, writes them into the
   :class:`~.ringbuffer.RingBuffer`, registers position events (first sound, marks, finished),
   publishes the live utterance's span, pauses, sets the volume, discards, and reopens the
   stream when the device goes away. Everything it shares with the callback is a single
   attribute assignment (atomic under the GIL) or an append to a ``collections.deque``.
2. **The PortAudio callback thread** (the consumer), :meth:`Player._callback`. It copies frames
   from the ring into the device buffer, applies the volume in place, counts underruns, and
   notices that playback passed an event's position.
3. **The synthesis thread** of the local voice (onnxruntime). It never touches the player;
   its chunks reach the loop first. It matters here only because it competes for the CPU —
   which is why the output latency and the prebuffer exist.

The callback must never: allocate arrays of audio size (it copies into ``outdata`` and scales
it in place), block or sleep, log or print, await anything, take a lock the loop can hold, or
raise (an exception would stop the stream). Its only way back into the loop is
``loop.call_soon_threadsafe`` — to resolve the futures of marks, first sound and finished, and
to wake a writer waiting for space (only when one is waiting, only once per wait).

Heard, not handed over
======================

A sample handed to the device is heard up to ``latency`` later (0.1 s by default). Marks —
what the reading window's highlight, progress and resume follow — resolve when their sample is
*heard*: the callback adds the device's delay (PortAudio's DAC time for the buffer, else the
stream's latency) and the loop resolves the mark at that moment. Measured on the null sink:
the highlight changes within 20 ms of the sound, 120–140 ms early before. First sound and
``finished`` keep the hand-over time (time to first audio is defined by it).

Stopping
========

:meth:`_PlayerUtterance.discard` flushes the ring (applied by the callback at its next call)
and then aborts and restarts the stream: ``abort()`` drops what PortAudio and the sound server
already hold (up to ``latency`` seconds, which would otherwise keep playing), ``start()`` on the
same stream object takes < 1 ms. Measured on the PulseAudio null sink: silent within a few ms.

Device loss
===========

If the stream stops without being asked (the device was unplugged, the sound server went
away, the callback failed), :meth:`Player._stream_lost` runs on the loop: it reports through
``on_device_change``, rescans PortAudio's device list and reopens on the default device at the
same sample rate. The ring survives, so the current utterance **continues** where the callback
stopped reading; only what the lost device had buffered (≤ ``latency``) is lost. If no device
can be opened, the live utterance fails: its futures get :class:`OutputDeviceLostError`, and so
does a ``write()`` waiting for space; a later :meth:`Player.open` tries again.

Switching devices
=================

:meth:`Player.reconfigure` moves playback to another device or latency while it plays. Each
stream has its own callback object; the old one is *retired*: from its next call on it plays
silence and no longer reads the ring, and it says so (``released``). Only then is the new
stream started, so the ring never has two readers. The new stream goes on from the first frame
the old one did not read, while the old device plays out what it holds; once the old callback
has produced more silence than its device buffers (``drained``), the old stream is closed.
Nothing is lost or played twice; the listener hears at most the new stream's start-up latency
as a gap. A device that cannot be opened at all leaves the old stream playing untouched, and
:class:`NoOutputDeviceError` says why. Only a latency change on a device that cannot be open
twice (an ALSA ``hw:`` device) has to close the old stream (after it played out) before it
opens the new one; if that fails, the old settings are opened again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import sounddevice as sd

from ..errors import NoOutputDeviceError, OutputDeviceLostError
from ..model import AudioChunk
from .handover import Retiring, StreamCallback, let_go, retrieve, settled_within
from .output import OutputCounters, OutputDevice, clamp_volume, first_audible
from .resample import StreamResampler
from .ringbuffer import RingBuffer

DEFAULT_LATENCY = 0.1
"""Output latency asked of PortAudio, in seconds.

Measured through the ALSA pulse plugin on 2 cores, 6 s of audio with the local voice
synthesizing in a thread and 2–4 busy processes competing: 20 ms gave 175 device underruns
(xruns) and 5 audible gaps, 50 ms one xrun, 100 ms and 200 ms none. 100 ms is twice the last
failing figure. Stopping does not depend on it (a stop aborts the stream and drops that
buffer); pause and the first audible sample lag by it, which is why it is not larger.
"""
DEFAULT_PREBUFFER = 0.1
"""Seconds of audio the callback waits for before it starts (or restarts after running dry)."""
IDLE_SUSPEND_SECONDS = 5.0
"""Idle time after which the output stream is stopped (see ``_suspend_if_idle``)."""
DEFAULT_BUFFER_SECONDS = 4.0
"""Ring size: how far the producer may run ahead of playback."""

_SWITCH_TIMEOUT = 1.0
"""Seconds beyond its latency that a retired stream's callback may take to answer; a stream
whose callback stopped coming is aborted instead (after ``abort()`` no callback runs)."""
_DRAIN_MARGIN = 0.05
"""Silence a retired stream plays beyond its latency before it is closed."""

_HEADROOM = 8192
"""Frames of the ring that ``write()`` leaves free so ``end()`` (which cannot wait) always has
room for the resampler's tail (at most ~2200 frames for 16 kHz → 44.1 kHz)."""

OutData = npt.NDArray[np.float32]


class OutputStream(Protocol):
    """The part of ``sounddevice.OutputStream`` the player uses (a fake implements it in tests)."""

    @property
    def samplerate(self) -> float: ...

    @property
    def latency(self) -> float: ...

    @property
    def active(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What the player asks a stream factory for."""

    device: str | int | None
    samplerate: int | None
    latency: float
    blocksize: int
    callback: Callable[[OutData, int, Any, Any], None]
    finished_callback: Callable[[], None]
    rescan: bool = False
    """Re-enumerate devices first (after a device was lost, the list PortAudio made is stale)."""


@dataclass(frozen=True, slots=True)
class OpenedStream:
    stream: OutputStream
    device_name: str


StreamFactory = Callable[[StreamSpec], OpenedStream]


# -- the sounddevice boundary -----------------------------------------------------------------


def rescan_devices() -> None:
    """Make PortAudio enumerate devices again (it only does so when it is initialised).

    Call it only while no stream is open: terminating PortAudio closes every stream.
    """
    try:
        sd._terminate()
        sd._initialize()
    except sd.PortAudioError as exc:
        raise NoOutputDeviceError(f"The sound system cannot be initialised: {exc}.") from exc


def list_output_devices() -> list[OutputDevice]:
    """Every device with an output channel, for ``voxtray devices``."""
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_out = sd.default.device[1]
    except sd.PortAudioError as exc:
        raise NoOutputDeviceError(f"The sound system cannot list devices: {exc}.") from exc
    return [
        OutputDevice(
            name=str(dev["name"]),
            index=int(dev["index"]),
            default_samplerate=float(dev["default_samplerate"]),
            is_default=int(dev["index"]) == default_out,
            hostapi=str(hostapis[dev["hostapi"]]["name"]),
        )
        for dev in devices
        if dev["max_output_channels"] > 0
    ]


def open_sounddevice_stream(spec: StreamSpec) -> OpenedStream:
    """The real stream factory: a float32 mono ``sounddevice.OutputStream``."""
    if spec.rescan:
        rescan_devices()
    try:
        stream = sd.OutputStream(
            samplerate=spec.samplerate,
            blocksize=spec.blocksize,
            device=spec.device,
            channels=1,
            dtype="float32",
            latency=spec.latency,
            callback=spec.callback,
            finished_callback=spec.finished_callback,
        )
        name = str(sd.query_devices(stream.device)["name"])
    except (sd.PortAudioError, ValueError) as exc:
        which = "the default output device" if spec.device is None else f"{spec.device!r}"
        raise NoOutputDeviceError(
            f"Cannot play sound on {which} ({exc}). Run `voxtray devices` to list the "
            "outputs and choose one in the settings."
        ) from exc
    return OpenedStream(stream, name)


# -- loop-side helpers (run through call_soon_threadsafe) -------------------------------------


def _resolve(fut: asyncio.Future[float], when: float) -> None:
    if not fut.done():
        fut.set_result(when)


def _resolve_when_heard(fut: asyncio.Future[float], when: float) -> None:
    """Resolve ``fut`` at ``when`` (monotonic), the moment its sample leaves the speakers."""
    delay = when - time.monotonic()
    if delay <= 0:
        _resolve(fut, when)
    else:  # a timer, not a task: if the mark is cancelled meanwhile, _resolve does nothing
        fut.get_loop().call_later(delay, _resolve, fut, when)


@dataclass(frozen=True, slots=True)
class _Span:
    """The live utterance's extent in absolute ring positions; replaced, never mutated."""

    start: int
    end: int | None = None


@dataclass(frozen=True, slots=True)
class _Event:
    trigger: int
    """The callback fires it once it has read up to this position."""
    at: int
    """The position whose play time is reported."""
    future: asyncio.Future[float]
    heard: bool = False
    """Resolve when the sample is *heard* (after the device's own delay), not when it is
    handed to the device: what a highlight or a caption must follow. First sound and the end
    of an utterance keep the hand-over time: time to first audio is defined by it, and the
    next utterance need not wait for the device to play out."""


class Player:
    """Plays utterances through one long-lived PortAudio output stream."""

    def __init__(
        self,
        device: str | int | None = None,
        *,
        sample_rate: int | None = None,
        latency: float = DEFAULT_LATENCY,
        prebuffer: float = DEFAULT_PREBUFFER,
        buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
        blocksize: int = 0,
        on_device_change: Callable[[str, str], None] | None = None,
        stream_factory: StreamFactory = open_sounddevice_stream,
        idle_suspend: float | None = IDLE_SUSPEND_SECONDS,
    ) -> None:
        self._device = device
        self._requested_rate = sample_rate
        self._latency = latency
        self._prebuffer_seconds = prebuffer
        self._buffer_seconds = buffer_seconds
        self._blocksize = blocksize
        self._on_device_change = on_device_change
        self._factory = stream_factory
        self._idle_suspend = idle_suspend
        self._idle_timer: asyncio.TimerHandle | None = None
        self._suspended = False
        self.suspensions = 0
        """Times the stream was stopped for being idle (tests and the stats look at it)."""

        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: OutputStream | None = None
        self._stream_callback: StreamCallback | None = None
        self._switch_lock = asyncio.Lock()
        self._switching = False
        self._retiring: Retiring | None = None
        self._switch_task: asyncio.Task[None] | None = None
        self._device_name = ""
        self._rate = 0
        self._ring = RingBuffer(1)
        self._prebuffer = 0
        self._closing = False
        self._utterance: _PlayerUtterance | None = None

        # Producer-owned, read by the callback.
        self._paused = False
        self._volume = 1.0
        self._span: _Span | None = None
        self._events: collections.deque[_Event] = collections.deque()
        self._space_waiter: tuple[int, asyncio.Future[float]] | None = None

        # Consumer-owned (assigned only in the callback), read by the loop.
        self._holding = True
        self._dry = False
        self._woken: tuple[int, asyncio.Future[float]] | None = None
        self._underruns = 0
        self._gap_frames = 0
        self._frames_played = 0
        self._xruns = 0

    # -- AudioOutput ------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def device_name(self) -> str:
        return self._device_name

    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume = clamp_volume(value)

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Hold playback at the current sample; nothing is lost, resume continues from it.

        What the device already holds (≤ ``latency``) still plays out.
        """
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    async def open(self) -> None:
        """Open and start the stream (idempotent). Raises :class:`NoOutputDeviceError`."""
        if self._stream is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._closing = False
        rescan = self._rate != 0  # a reopen after a loss: the device list may be stale
        self._open_stream(self._device, self._requested_rate or self._rate or None, rescan)

    def _open_stream(self, device: str | int | None, rate: int | None, rescan: bool) -> None:
        self._install(*self._create(device, rate, rescan))

    def _create(
        self, device: str | int | None, rate: int | None, rescan: bool = False
    ) -> tuple[OpenedStream, StreamCallback]:
        """A new stream with a callback of its own, not started yet."""
        callback = StreamCallback(self._callback)
        opened = self._factory(
            StreamSpec(
                device=device,
                samplerate=rate,
                latency=self._latency,
                blocksize=self._blocksize,
                callback=callback,
                finished_callback=self._finished_callback,
                rescan=rescan,
            )
        )
        return opened, callback

    def _install(self, opened: OpenedStream, callback: StreamCallback) -> None:
        """Make ``opened`` the stream and start it. Raises :class:`NoOutputDeviceError`."""
        stream = opened.stream
        new_rate = int(stream.samplerate)
        if new_rate != self._rate:
            # Only on first open (a reopen asks for the same rate), so no audio is in the ring.
            self._rate = new_rate
            self._ring = RingBuffer(int(self._buffer_seconds * new_rate) + _HEADROOM)
            self._prebuffer = int(self._prebuffer_seconds * new_rate)
        self._stream = stream
        self._stream_callback = callback
        self._device_name = opened.device_name
        try:
            stream.start()
        except Exception as exc:  # PortAudioError, or whatever a fake raises
            self._stream = None
            stream.close()
            raise NoOutputDeviceError(
                f"Cannot start sound output on {opened.device_name} ({exc}). "
                "Run `voxtray devices` to list the outputs."
            ) from exc

    def start_utterance(self) -> _PlayerUtterance:
        if self._stream is None or self._loop is None:
            raise RuntimeError("open() the player before playing")
        live = self._utterance
        if live is not None and not (live.ended or live.discarded):
            raise RuntimeError("the previous utterance is still being written")
        self._wake_from_idle()
        self._utterance = _PlayerUtterance(self, self._loop)
        self._span = _Span(self._ring.frames_written)
        return self._utterance

    async def reconfigure(
        self, device: str | int | None = None, latency: float | None = None
    ) -> None:
        """Play on ``device`` (``None``: the system default) with ``latency`` seconds of output
        latency (``None``: as now) from now on, while playing or idle.

        What plays goes on on the new device (see "Switching devices" in the module docstring);
        a player not open yet only remembers the settings for :meth:`open`. Raises
        :class:`NoOutputDeviceError` if the new device cannot be used; the player then keeps
        playing on the old one. The switch is the player's own task: cancelling the caller
        does not leave it half done.
        """
        async with self._switch_lock:
            running = self._switch_task
            if running is not None and not running.done():
                await asyncio.wait({running})
            new_latency = self._latency if latency is None else latency
            if device == self._device and new_latency == self._latency:
                return
            previous = (self._device, self._latency)
            self._device, self._latency = device, new_latency
            old, old_callback = self._stream, self._stream_callback
            if old is None or old_callback is None or self._loop is None or self._closing:
                return
            task = self._switch_task = self._loop.create_task(
                self._switch(old, old_callback, previous), name="voxtray-output-switch"
            )
            task.add_done_callback(retrieve)
            await asyncio.shield(task)

    async def _switch(
        self,
        old: OutputStream,
        old_callback: StreamCallback,
        previous: tuple[str | int | None, float],
    ) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._switching = True
        try:
            await self._move(old, old_callback, previous)
        except NoOutputDeviceError:
            self._device, self._latency = previous
            raise
        finally:
            self._switching = False
            self._retiring = None
            self._check_stream_stopped()  # a loss while switching was not looked at
            self._schedule_idle_check()

    async def _move(
        self,
        old: OutputStream,
        old_callback: StreamCallback,
        previous: tuple[str | int | None, float],
    ) -> None:
        try:
            created: tuple[OpenedStream, StreamCallback] | None = self._create(
                self._device, self._rate
            )
        except NoOutputDeviceError:
            if self._device != previous[0]:
                raise  # another device that cannot be used: the old one plays on, untouched
            created = None  # the same device, busy with us: open it again once we let it go
        old_name = self._device_name
        retiring = await self._retire(old, old_callback)
        if self._closing:
            if created is not None:
                let_go(created[0].stream)
            return
        if self._stream is not old and self._stream is not None:
            let_go(self._stream)  # reopened meanwhile by a failed stop: ours replaces it
        if created is not None:
            # From here on the old callback reads nothing: the new one may start reading.
            try:
                self._install(*created)
            except NoOutputDeviceError:
                if retiring is None:  # the old one is gone already
                    self._restore(previous, "the new output device could not be started")
                else:
                    old_callback.retiring = None
                    self._stream, self._stream_callback = old, old_callback
                    self._device_name = old_name
                raise
            self._suspended = False
            if retiring is not None:
                await settled_within(retiring.drained, old.latency + _SWITCH_TIMEOUT)
            let_go(old)
            return
        if retiring is not None:
            await settled_within(retiring.drained, old.latency + _SWITCH_TIMEOUT)
        let_go(old)
        self._stream = None
        if self._closing:
            return
        try:
            self._install(*self._create(self._device, self._rate))
        except NoOutputDeviceError:
            self._restore(previous, "the new output device could not be opened")
            raise
        self._suspended = False

    async def _retire(self, old: OutputStream, callback: StreamCallback) -> Retiring | None:
        """Stop ``old`` from reading the ring. Returns its :class:`Retiring` while its device
        still plays out, or ``None`` if it was stopped outright (idle, or not calling back)."""
        assert self._loop is not None
        if self._suspended or not old.active:
            return None  # no callback runs, none will: nothing reads the ring
        retiring = self._retiring = Retiring(
            self._loop, int((old.latency + _DRAIN_MARGIN) * self._rate)
        )
        callback.retiring = retiring
        if await settled_within(retiring.released, old.latency + _SWITCH_TIMEOUT):
            return retiring
        let_go(old)  # its callback stopped coming; after an abort it cannot come back
        return None

    def _restore(self, previous: tuple[str | int | None, float], reason: str) -> None:
        """After a failed switch with the old stream gone: reopen the old device."""
        self._device, self._latency = previous
        self._stream = None
        try:
            self._open_stream(self._device, self._rate, rescan=False)
        except NoOutputDeviceError:
            self._stream_lost(reason)

    # -- idle suspension (event loop) -------------------------------------------------------
    #
    # A running stream calls back every few milliseconds even when it only plays silence,
    # which keeps a tray app that nobody uses at about 1 % of a core. After a few idle
    # seconds the stream is stopped (not closed: the device stays ours and opens no faster
    # for being closed) and started again by the next utterance, in well under a millisecond.

    def _schedule_idle_check(self) -> None:
        if self._idle_suspend is None or self._loop is None or self._closing:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self._loop.call_later(self._idle_suspend, self._suspend_if_idle)

    def _suspend_if_idle(self) -> None:
        self._idle_timer = None
        stream = self._stream
        if stream is None or self._suspended or self._closing or self._switching:
            return
        live = self._utterance
        busy = live is not None and not live.discarded and not live.finished.done()
        if busy or self._ring.read_available or self._paused:
            self._schedule_idle_check()  # still playing (or paused mid-way): look again later
            return
        self._suspended = True
        self.suspensions += 1
        try:
            stream.stop()
        except Exception as exc:  # a failing device is lost, as anywhere else
            self._suspended = False
            self._stream_lost(f"the stream failed while going idle: {exc}")

    def _wake_from_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        stream = self._stream
        if not self._suspended or stream is None:
            return
        self._suspended = False
        try:
            stream.start()
        except Exception as exc:
            self._stream_lost(f"the stream failed to start again: {exc}")

    def counters(self) -> OutputCounters:
        stream = self._stream
        return OutputCounters(
            underruns=self._underruns,
            gap_seconds=self._gap_frames / self._rate if self._rate else 0.0,
            frames_played=self._frames_played,
            device=self._device_name,
            sample_rate=self._rate,
            latency=float(stream.latency) if stream is not None else 0.0,
            xruns=self._xruns,
            suspended=self._suspended,
        )

    async def aclose(self) -> None:
        self._closing = True
        retiring = self._retiring
        if retiring is not None:  # a switch under way: it need not wait for a stream we close
            _resolve(retiring.released, time.monotonic())
            _resolve(retiring.drained, time.monotonic())
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._utterance is not None:
            self._utterance.discard()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()
        switch, self._switch_task = self._switch_task, None
        if switch is not None and not switch.done():
            await asyncio.wait({switch})

    # -- producer internals (event loop) ----------------------------------------------------

    async def _push(self, utt: _PlayerUtterance, frames: npt.NDArray[np.float32]) -> None:
        """Write frames into the ring, waiting for space as needed (backpressure)."""
        ring = self._ring
        if utt.first_position is None:
            idx = first_audible(frames)
            if idx is not None:
                pos = utt.first_position = ring.frames_written + idx
                self._events.append(_Event(pos + 1, pos, utt.first_sound))
        offset = 0
        total = len(frames)
        while offset < total and not utt.discarded:
            room = ring.write_available - _HEADROOM
            if room > 0:
                offset += ring.write(frames[offset : offset + room])
            if offset < total:
                await self._wait_space(min(total - offset, ring.capacity // 4) + _HEADROOM)

    async def _wait_space(self, needed: int) -> None:
        assert self._loop is not None
        if self._stream is None:
            raise OutputDeviceLostError("The sound output device went away.")
        fut: asyncio.Future[float] = self._loop.create_future()
        waiter = (needed, fut)
        self._space_waiter = waiter
        try:
            # Re-check after publishing the waiter: the callback may have freed space between
            # our last look and now, and then it would never see a waiter to wake.
            if self._ring.write_available >= needed:
                return
            await fut
        finally:
            self._space_waiter = None

    def _wake_writer(self, error: BaseException | None = None) -> None:
        waiter = self._space_waiter
        if waiter is not None and not waiter[1].done():
            if error is None:
                waiter[1].set_result(0.0)
            else:
                waiter[1].set_exception(error)

    def _add_event(
        self, position: int, future: asyncio.Future[float], *, heard: bool = False
    ) -> None:
        if position <= self._ring.frames_read:
            _resolve(future, time.monotonic())
        else:
            self._events.append(_Event(position, position, future, heard))

    def _drop(self, utt: _PlayerUtterance) -> None:
        """Silence now: flush the ring and the device's own buffer."""
        if utt is not self._utterance:
            # An ended utterance still playing its tail while the next one is written:
            # drop only its own frames, the device buffer may already hold the next one's.
            if utt.end_position is not None:
                self._ring.request_flush(utt.end_position)
            return
        self._ring.request_flush()
        self._span = None
        self._wake_writer()
        stream = self._stream
        if stream is None or self._suspended:
            return
        try:
            stream.abort()  # drops what PortAudio and the server hold, not only our ring
            stream.start()
        except Exception as exc:  # PortAudioError or anything else: a failing device is lost
            self._stream_lost(f"the stream failed while stopping: {exc}")

    # -- device loss (event loop) -----------------------------------------------------------

    def _finished_callback(self) -> None:
        """PortAudio: the stream stopped. Ours (abort/close) or not: the loop decides."""
        loop = self._loop
        if loop is not None and not self._closing:
            # A closed loop raises RuntimeError: then nobody is left to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._check_stream_stopped)

    def _check_stream_stopped(self) -> None:
        stream = self._stream
        if self._closing or self._suspended or self._switching or stream is None or stream.active:
            return  # we stopped it ourselves (idle, restarted, switching) or we are closing
        self._stream_lost(f"{self._device_name} stopped unexpectedly")

    def _stream_lost(self, reason: str) -> None:
        old, self._stream = self._stream, None
        old_name = self._device_name
        if old is not None:
            # It is already broken; we only let go of it, whatever closing it raises.
            with contextlib.suppress(Exception):
                old.close()
        try:
            self._open_stream(None, self._rate or None, rescan=True)
        except NoOutputDeviceError as exc:
            error = OutputDeviceLostError(
                f"The sound output {old_name} went away and no other device is available."
            )
            error.__cause__ = exc
            if self._utterance is not None:
                self._utterance.fail(error)
            self._span = None
            self._wake_writer(error)
            self._notify(old_name, f"{reason}; no output device is available")
            return
        self._notify(self._device_name, f"{reason}; reopened on {self._device_name}")

    def _notify(self, device: str, reason: str) -> None:
        if self._on_device_change is not None:
            self._on_device_change(device, reason)

    # -- consumer (PortAudio callback thread) -----------------------------------------------

    def _device_delay(self, time_info: Any) -> float:
        """Seconds from this callback until its first sample is heard: PortAudio's DAC time
        where the host API gives a sane one (ALSA does), else the stream's latency."""
        try:
            delay = float(time_info.outputBufferDacTime - time_info.currentTime)
        except (AttributeError, TypeError):  # a fake stream gives no timing
            delay = -1.0
        if 0.0 <= delay < 2.0:
            return delay
        stream = self._stream
        return float(stream.latency) if stream is not None else 0.0

    def _callback(self, outdata: OutData, frames: int, time_info: Any, status: Any) -> None:
        """Fill ``outdata``; see the contract in the module docstring."""
        now = time.monotonic()
        if status.output_underflow:
            self._xruns += 1
        out = outdata[:, 0]
        ring = self._ring
        ring.apply_flush()
        start = ring.frames_read
        span = self._span
        n = 0
        if not self._paused:
            if self._holding:
                available = ring.read_available
                tail_known = span is None or span.end is not None
                if available >= self._prebuffer or (tail_known and available > 0):
                    self._holding = False
            if not self._holding:
                n = ring.read_into(out)
                if n < frames:
                    self._holding = True  # ran dry: refill the prebuffer before going on
        if n < frames:
            out[n:] = 0.0
        volume = self._volume
        if volume != 1.0:
            out *= volume
        self._frames_played += n
        pos = start + n

        # Underruns: the ring is dry while an utterance is mid-flight (some of it played,
        # not all of it). Paused time and the silence between utterances do not count.
        if not self._paused and span is not None and pos > span.start:
            short = frames - n
            if short and (span.end is None or pos < span.end):
                if not self._dry:
                    self._dry = True
                    self._underruns += 1
                self._gap_frames += short
            elif not short:
                self._dry = False
        else:
            self._dry = False

        loop = self._loop
        if loop is None:
            return
        rate = self._rate
        events = self._events
        try:
            while events and events[0].trigger <= pos:
                event = events.popleft()
                when = now + max(0, event.at - start) / rate
                if event.heard:
                    when += self._device_delay(time_info)
                    loop.call_soon_threadsafe(_resolve_when_heard, event.future, when)
                else:
                    loop.call_soon_threadsafe(_resolve, event.future, when)
            waiter = self._space_waiter
            if (
                waiter is not None
                and waiter is not self._woken
                and ring.write_available >= waiter[0]
            ):
                self._woken = waiter
                loop.call_soon_threadsafe(_resolve, waiter[1], now)
        except RuntimeError:
            # The loop was closed without aclose(): nobody is left to tell, and raising here
            # would only stop the stream.
            return


class _PlayerUtterance:
    """One utterance on the :class:`Player` (implements ``UtteranceOutput``)."""

    def __init__(self, player: Player, loop: asyncio.AbstractEventLoop) -> None:
        self._player = player
        self._first_sound: asyncio.Future[float] = loop.create_future()
        self._finished: asyncio.Future[float] = loop.create_future()
        self._marks: list[asyncio.Future[float]] = []
        self._resampler: StreamResampler | None = None
        self.first_position: int | None = None
        """Ring position of the first audible sample, once written."""
        self.end_position: int | None = None
        self.ended = False
        self.discarded = False

    @property
    def first_sound(self) -> asyncio.Future[float]:
        return self._first_sound

    @property
    def finished(self) -> asyncio.Future[float]:
        return self._finished

    async def write(self, chunk: AudioChunk) -> None:
        if self.discarded:
            return
        if self.ended:
            raise RuntimeError("write() after end()")
        rate = self._player.sample_rate
        if self._resampler is None or self._resampler.in_rate != chunk.sample_rate:
            if self._resampler is not None:  # a provider changed rate mid-utterance
                await self._player._push(self, self._resampler.flush())
            self._resampler = StreamResampler(chunk.sample_rate, rate)
        frames = self._resampler.process(chunk.pcm)
        if len(frames):
            await self._player._push(self, frames)

    def mark(self) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = self._finished.get_loop().create_future()
        if self.discarded:
            fut.cancel()
            return fut
        self._marks.append(fut)
        self._player._add_event(self._player._ring.frames_written, fut, heard=True)
        return fut

    def end(self) -> None:
        if self.ended or self.discarded:
            return
        self.ended = True
        self._player._schedule_idle_check()
        player, ring = self._player, self._player._ring
        if self._resampler is not None:
            tail = self._resampler.flush()
            ring.write(tail)  # the headroom write() left free guarantees it fits
        end = self.end_position = ring.frames_written
        span = player._span
        player._span = _Span(span.start if span is not None else end, end)
        if self.first_position is None:  # an all-silent utterance "sounds" when it is over
            player._add_event(end, self._first_sound)
        player._add_event(end, self._finished)

    def discard(self) -> None:
        if self.discarded:
            return
        # Only a *resolved* ``finished`` means every sample was heard; a cancelled one (the
        # task awaiting it was cancelled) says nothing about what is still in the ring.
        finished = self._finished
        was_playing = not (finished.done() and not finished.cancelled())
        self.discarded = True
        heard = self.first_position is not None and (
            self._player._ring.frames_read > self.first_position
        )
        # A first sound already handed to the device keeps its time (its resolution may still
        # be on its way from the callback): it was heard, so it counts for time to first audio.
        for fut in (*(() if heard else (self._first_sound,)), self._finished, *self._marks):
            fut.cancel()
        if was_playing:
            self._player._drop(self)
        self._player._schedule_idle_check()

    def fail(self, error: BaseException) -> None:
        """The device went away for good: ``first_sound`` and ``finished`` raise ``error``.

        Marks are cancelled: progress that never happens is not a second error.
        """
        self.discarded = True
        for fut in (self._first_sound, self._finished):
            if not fut.done():
                fut.set_exception(error)
                # Whoever awaits it still gets the error; nobody awaiting is not worth a
                # "Future exception was never retrieved" in the log.
                fut.exception()
        for fut in self._marks:
            fut.cancel()
