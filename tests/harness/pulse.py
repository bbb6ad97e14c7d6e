"""A private PulseAudio server with a null sink, and a recorder of what the sink played.

Recipe: /work/shared/test-harness.md. Each test session starts its OWN daemon with a temporary
HOME and XDG_RUNTIME_DIR (mode 700) and a native socket inside it, so concurrent test runs of
other engineers on the same machine never share a server. The test process reaches it through
``PULSE_SERVER=unix:<socket>``: libpulse, and therefore the ALSA "pulse"/"default" pcm that
PortAudio opens, reads that variable when a client connects.

Two gotchas shape the code:

* An idle null sink renders in ~2 s blocks, so the first playback would run slower than real
  time. A low-latency ``parec`` reader stays on the monitor for the whole session.
* PortAudio enumerates devices once, when sounddevice is initialised. The caller must set the
  environment before that, or re-initialise PortAudio afterwards (see ``tests/conftest.py``).

Every process is started here with ``subprocess.Popen`` and stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.harness.process import die_with_parent
from tests.harness.process import missing_binaries as missing

SINK = "testsink"
MONITOR = f"{SINK}.monitor"
RATE = 48000
"""Rate of the null sink and of every recording."""

_REQUIRED = ("pulseaudio", "pactl", "parec")


class HarnessError(RuntimeError):
    """The sound harness could not be brought up (a setup problem, not a product failure)."""


def missing_binaries() -> list[str]:
    return missing(_REQUIRED)


@dataclass
class PulseServer:
    """One private PulseAudio daemon with a null sink ``testsink`` as the default output."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    _daemon: subprocess.Popen[bytes] | None = None
    _keeper: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "runtime" / "native"

    @property
    def client_config(self) -> Path:
        """A libpulse client.conf that never autospawns a server in the user's session."""
        return self.root / "client.conf"

    @property
    def server(self) -> str:
        return f"unix:{self.socket}"

    @property
    def client_env(self) -> dict[str, str]:
        """What a client process needs in its environment to play into this server."""
        return {
            "PULSE_SERVER": self.server,
            "PULSE_COOKIE": str(self.root / "cookie"),
            "PULSE_CLIENTCONFIG": str(self.client_config),
        }

    @classmethod
    def start(cls, timeout: float = 10.0) -> PulseServer:
        missing = missing_binaries()
        if missing:
            raise HarnessError(
                f"PulseAudio tools missing ({', '.join(missing)}): run `make test`, which "
                "installs the system packages the sound tests need."
            )
        root = Path(tempfile.mkdtemp(prefix="voxtray-pulse-"))
        server = cls(root)
        try:
            server._boot(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def _boot(self, timeout: float) -> None:
        home, runtime = self.root / "home", self.root / "runtime"
        for d in (home, runtime, home / ".config" / "pulse"):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o700)
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "PULSE_RUNTIME_PATH": str(runtime),
            "PULSE_STATE_PATH": str(home / ".config" / "pulse"),
            "PULSE_SERVER": self.server,
            "PULSE_CLIENTCONFIG": str(self.client_config),
        }
        self.client_config.write_text("autospawn = no\n")
        log = self.root / "pulse.log"
        self._daemon = subprocess.Popen(
            [
                "pulseaudio",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--disallow-exit",
                "-n",
                f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
                f"--load=module-null-sink sink_name={SINK} rate={RATE} "
                "sink_properties=device.description=TestSink",
                "--load=module-always-sink",
                f"--log-target=file:{log}",
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while True:  # wait for the condition "the server answers", bounded
            if self._daemon.poll() is not None:
                raise HarnessError(f"pulseaudio exited early; see {log}")
            probe = subprocess.run(
                ["pactl", "info"], env=self.env, capture_output=True, check=False
            )
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise HarnessError(f"pulseaudio did not come up within {timeout} s; see {log}")
            time.sleep(0.05)
        self.pactl("set-default-sink", SINK)
        self.pactl("set-default-source", MONITOR)
        # The latency keeper: without a reader the idle null sink renders in ~2 s blocks.
        self._keeper = subprocess.Popen(
            ["parec", "-d", MONITOR, "--raw", "--latency-msec=10"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )

    def pactl(self, *args: str) -> str:
        done = subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise HarnessError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def recorder(self, monitor: str = MONITOR) -> Recorder:
        """A recorder of ``monitor`` (the default sink's, or another sink's ``<name>.monitor``)."""
        return Recorder(self.env, monitor)

    def stop(self) -> None:
        for proc in (self._keeper, self._daemon):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._keeper = self._daemon = None
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Recording:
    """What the monitor received: mono float samples in -1..1 at :data:`RATE`.

    ``start`` is the ``time.monotonic()`` at which sample 0 was rendered by the sink, estimated
    from the arrival times of the blocks (the earliest ``arrival - frames_so_far / RATE`` over
    all blocks, i.e. the block that waited least in a buffer).
    """

    samples: npt.NDArray[np.float32]
    start: float
    rate: int = RATE
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    """``(frames received so far, time.monotonic())`` after each block read from the monitor."""

    def received_by(self, index: float) -> float:
        """When the block holding sample ``index`` reached the recorder: a time by which that
        sample had certainly been played. Unlike :meth:`time_of` it needs no estimate of the
        timeline, so it errs late (by the monitor's delivery, ~10 ms), never early."""
        for frames, arrival in self.arrivals:
            if frames > index:
                return arrival
        raise ValueError(f"sample {index} is beyond the recording ({self.arrivals[-1][0]})")

    def time_of(self, index: float) -> float:
        """Monotonic time of a sample index."""
        return self.start + index / self.rate

    def index_of(self, when: float) -> int:
        return round((when - self.start) * self.rate)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


class Recorder:
    """Record the null sink's monitor for the duration of a ``with`` block.

    ``with server.recorder() as rec: ...`` then ``rec.result`` is a :class:`Recording`.
    Entering waits until the first samples arrived, so the recording is live before the test
    starts to play.
    """

    _BLOCK_BYTES = 480 * 2  # 10 ms of s16le mono

    def __init__(self, env: dict[str, str], monitor: str = MONITOR) -> None:
        self._env = env
        self._monitor = monitor
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._blocks: list[bytes] = []
        self._estimates: list[float] = []
        self._arrivals: list[tuple[int, float]] = []
        self._first = threading.Event()
        self._result: Recording | None = None
        self._loudest = 0.0
        self._heard = threading.Condition()

    def __enter__(self) -> Recorder:
        self._proc = subprocess.Popen(
            [
                "parec",
                "-d",
                self._monitor,
                "--format=s16le",
                f"--rate={RATE}",
                "--channels=1",
                "--raw",
                "--latency-msec=10",
            ],
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            preexec_fn=die_with_parent,
        )
        self._thread = threading.Thread(target=self._pump, name="monitor-recorder", daemon=True)
        self._thread.start()
        if not self._first.wait(timeout=5.0):
            self._shutdown()
            raise HarnessError("the monitor recorder received nothing within 5 s")
        return self

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stream = self._proc.stdout
        total = 0
        while True:
            block = stream.read(self._BLOCK_BYTES)
            now = time.monotonic()
            if not block:
                return
            self._blocks.append(block)
            total += len(block)
            self._estimates.append(now - (total // 2) / RATE)
            self._arrivals.append((total // 2, now))
            self._first.set()
            peak = float(np.abs(np.frombuffer(block, dtype="<i2")).max(initial=0)) / 32768.0
            with self._heard:
                self._loudest = max(self._loudest, peak)
                self._heard.notify_all()

    def wait_for_sound(self, level: float = 0.1, timeout: float = 30.0) -> bool:
        """Block until a sample louder than ``level`` has been recorded (False on timeout)."""
        with self._heard:
            return self._heard.wait_for(lambda: self._loudest >= level, timeout)

    def _shutdown(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __exit__(self, *exc: object) -> None:
        self._shutdown()
        raw = b"".join(self._blocks)
        raw = raw[: len(raw) // 2 * 2]
        samples = (np.frombuffer(raw, dtype="<i2").astype(np.float32)) / 32768.0
        self._result = Recording(samples, min(self._estimates), arrivals=self._arrivals)

    @property
    def result(self) -> Recording:
        if self._result is None:
            raise RuntimeError("the recording is available after the with block")
        return self._result


@contextmanager
def pulse_server() -> Iterator[PulseServer]:
    server = PulseServer.start()
    try:
        yield server
    finally:
        server.stop()


SECOND_SINK = "second"
SECOND_DEVICE = "voxtray_second"
"""An ALSA pcm of our own that plays into :data:`SECOND_SINK`: PortAudio lists it as a device."""


@contextmanager
def second_device(server: PulseServer) -> Iterator[str]:
    """A second null sink and a PortAudio device that plays into it (for device switches).

    PortAudio reaches PulseAudio through ALSA, whose ``pulse`` pcm plays into the default sink;
    the pcm defined here names the second sink. ALSA reads its configuration again when the
    file list in ``ALSA_CONFIG_PATH`` changes, and PortAudio lists devices when it is
    initialised, so both are redone on the way in and out. Record it with
    ``server.recorder(f"{SECOND_SINK}.monitor")``. No stream may be open on entry or exit.
    """
    from voxtray.core.audio.player import rescan_devices

    module = server.pactl(
        "load-module",
        "module-null-sink",
        f"sink_name={SECOND_SINK}",
        f"rate={RATE}",
        "sink_properties=device.description=SecondSink",
    ).strip()
    conf = server.root / "second-device.conf"
    conf.write_text(
        f'pcm.{SECOND_DEVICE} {{ type pulse device "{SECOND_SINK}" '
        'hint { show on description "VoxTray test: the second sink" } }\n'
    )
    saved = os.environ.get("ALSA_CONFIG_PATH")
    os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{conf}"
    try:
        rescan_devices()
        yield SECOND_DEVICE
    finally:
        if saved is None:
            os.environ.pop("ALSA_CONFIG_PATH", None)
        else:
            os.environ["ALSA_CONFIG_PATH"] = saved
        rescan_devices()
        server.pactl("unload-module", module)


@contextmanager
def private_pulse() -> Iterator[PulseServer]:
    """A private server, with this process pointed at it for the duration (then restored).

    PortAudio only enumerates devices when it is initialised, so after pointing libpulse at the
    private server (``PULSE_SERVER``), PortAudio is re-initialised.
    """
    server = PulseServer.start()
    saved = {key: os.environ.get(key) for key in server.client_env}
    os.environ.update(server.client_env)
    from voxtray.core.audio.player import rescan_devices

    try:
        rescan_devices()
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
