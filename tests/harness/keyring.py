"""A real Secret Service for keyring tests: gnome-keyring-daemon on a private D-Bus session bus.

Recipe: /work/shared/test-harness.md, made private and owned by PID:

* ``dbus-daemon --nofork`` with our own configuration file, started by ``Popen`` so its PID is
  ours. The configuration has no ``<servicedir>``: on the stock session configuration a
  client asking for ``org.freedesktop.secrets`` before our daemon registered would make the
  bus *activate* a second gnome-keyring-daemon we neither configured nor own.
* ``gnome-keyring-daemon --foreground --unlock --components=secrets`` reads the login
  keyring's password on stdin and creates that keyring, unlocked, in an isolated
  ``XDG_DATA_HOME``. HOME, XDG_RUNTIME_DIR and XDG_DATA_HOME are temp dirs, mode 700, so
  nothing touches the user's real keyring.
* Ready means the Secret Service answers, probed the way keyring itself probes it.

The test process reaches the bus through ``DBUS_SESSION_BUS_ADDRESS``, which the fixture sets
for the session and restores afterwards, together with keyring's chosen backend. Missing
binaries make the fixture fail with a pointer to ``make test`` (which installs them): a
skipped keyring test would hide exactly the machine where keyring support is broken.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import keyring.backend
import keyring.core
import pytest
from keyring.backends import SecretService

from tests.harness.process import BUS_CONFIG, die_with_parent
from tests.harness.process import missing_binaries as missing

PASSWORD = "voxtray-test-password"
"""Password of the throwaway login keyring (it only ever lives in a temp dir)."""

_REQUIRED = ("dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool")

_BUS_CONFIG = BUS_CONFIG


class KeyringHarnessError(RuntimeError):
    """The Secret Service could not be brought up (a setup problem, not a product failure)."""


def missing_binaries() -> list[str]:
    return missing(_REQUIRED)


@dataclass
class SecretServiceSession:
    """A private session bus with gnome-keyring's Secret Service on it."""

    root: Path
    bus_address: str = ""
    env: dict[str, str] = field(default_factory=dict)
    """Environment for child processes (``secret-tool``) that must reach this bus."""
    _bus: subprocess.Popen[bytes] | None = None
    _daemon: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, timeout: float = 10.0) -> SecretServiceSession:
        missing = missing_binaries()
        if missing:
            raise KeyringHarnessError(
                f"Secret Service tools missing ({', '.join(missing)}): run `make test`, which "
                "installs the system packages (dbus, gnome-keyring, libsecret-tools) the keyring "
                "tests need."
            )
        session = cls(Path(tempfile.mkdtemp(prefix="voxtray-keyring-")))
        try:
            session._boot(timeout)
        except BaseException:
            session.stop()
            raise
        return session

    def _boot(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.root.chmod(0o700)
        home, runtime, data = self.root / "home", self.root / "runtime", self.root / "data"
        for d in (home, runtime, data):
            d.mkdir(mode=0o700)
            d.chmod(0o700)
        config = self.root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=self.root / "bus"), encoding="utf-8")
        base_env = {
            **os.environ,
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_DATA_HOME": str(data),
            "XDG_CONFIG_HOME": str(home / ".config"),
        }
        base_env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self._bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            env=base_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        assert self._bus.stdout is not None
        # The address line is printed once the bus listens; an exit closes stdout (EOF).
        self.bus_address = self._bus.stdout.readline().decode().strip()
        self._bus.stdout.close()
        if not self.bus_address:
            raise KeyringHarnessError("dbus-daemon exited without printing its address")
        self.env = {**base_env, "DBUS_SESSION_BUS_ADDRESS": self.bus_address}
        self._daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        assert self._daemon.stdin is not None
        self._daemon.stdin.write(PASSWORD.encode())
        self._daemon.stdin.close()
        while not self._answers():  # wait for the condition "the service answers", bounded
            if self._daemon.poll() is not None:
                raise KeyringHarnessError("gnome-keyring-daemon exited early")
            if time.monotonic() > deadline:
                raise KeyringHarnessError(f"the Secret Service did not come up within {timeout} s")
            time.sleep(0.05)

    def _answers(self) -> bool:
        """Whether gnome-keyring owns the Secret Service's bus name yet."""
        probe = subprocess.run(
            [
                "dbus-send",
                f"--bus={self.bus_address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        )
        return probe.returncode == 0 and "boolean true" in probe.stdout

    def secret_tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``secret-tool`` against this session (an independent client of the service)."""
        return subprocess.run(
            ["secret-tool", *args], env=self.env, capture_output=True, text=True, check=False
        )

    def lookup(self, service: str, username: str) -> str | None:
        done = self.secret_tool("lookup", "service", service, "username", username)
        return done.stdout if done.returncode == 0 else None

    def stop(self) -> None:
        for proc in (self._daemon, self._bus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._daemon = self._bus = None
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def installed_backend(backend: keyring.backend.KeyringBackend) -> Iterator[None]:
    """Make ``backend`` keyring's backend for the block, then restore exactly what was there.

    keyring keeps its choice in a module global that stays ``None`` until first use; reading
    it through ``get_keyring()`` would trigger a detection (a D-Bus probe) we do not want, so
    the private global is saved and put back as it was.
    """
    saved = keyring.core._keyring_backend
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.core._keyring_backend = saved


@pytest.fixture(scope="session")
def secret_service_session() -> Iterator[SecretServiceSession]:
    """One private Secret Service for the whole test session, reachable from this process."""
    try:
        session = SecretServiceSession.start()
    except KeyringHarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = session.bus_address
    try:
        yield session
    finally:
        if saved is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = saved
        session.stop()


@pytest.fixture
def secret_service(
    secret_service_session: SecretServiceSession, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretServiceSession]:
    """The session's Secret Service as keyring's backend for one test, with no key in it.

    The environment override is removed for the test, and every VoxTray item it stored is
    deleted afterwards, so tests do not see each other's keys.
    """
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    backend = SecretService.Keyring()
    with installed_backend(backend):
        try:
            yield secret_service_session
        finally:
            secret_service_session.secret_tool("clear", "service", "voxtray")
