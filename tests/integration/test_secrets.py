"""The API key in a real Secret Service (gnome-keyring on a private bus), and never anywhere else.

Backends that are not secure storage are refused: keyring's own ``fail``/``null``/empty
``chainer``, and a plain-text file backend declared here (it behaves like keyrings.alt's, which
is not a dependency). The marker key is searched for in every text a user or a log could see.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import time
import traceback
from pathlib import Path

import keyring.backend
import keyring.errors
import pytest
from keyring.backends import SecretService, fail, null
from keyring.backends.chainer import ChainerBackend
from voxtray.core import secrets
from voxtray.core.errors import SecretsError
from voxtray.core.secrets import Secret

from tests.harness.keyring import SecretServiceSession, installed_backend

MARKER = "sk_MARKER_0123456789"
OTHER = "sk_OTHERKEY_abcdefgh"
GUIDANCE = ("GNOME Keyring", "KWallet", "KeePassXC", "Credential Locker", "Keychain")


class PlaintextFileKeyring(keyring.backend.KeyringBackend):
    """Stores passwords in a plain file, like keyrings.alt's PlaintextKeyring (priority 0.5).

    ``viable = False`` keeps it out of keyring's own auto-detection for the rest of the session
    (every backend class registers itself when it is defined).
    """

    priority = 0.5
    viable = False

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _items(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines)

    def get_password(self, service: str, username: str) -> str | None:
        return self._items().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        items = {**self._items(), f"{service}/{username}": password}
        self.path.write_text("".join(f"{k}={v}\n" for k, v in items.items()), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        items = self._items()
        items.pop(f"{service}/{username}")
        self.path.write_text("".join(f"{k}={v}\n" for k, v in items.items()), encoding="utf-8")


class DisguisedFileKeyring(PlaintextFileKeyring):
    """A file backend claiming a high priority (a config file can do that): refused by module."""

    priority = 10


DisguisedFileKeyring.__module__ = "keyrings.alt.file"


class FaultyKeyring(keyring.backend.KeyringBackend):
    """A keyring that claims to be secure and then fails the way real ones do."""

    priority = 5
    viable = False

    def __init__(self, error: Exception, delay: float = 0.0) -> None:
        super().__init__()
        self.error = error
        self.delay = delay

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(self.delay)
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


class LeakyKeyring(keyring.backend.KeyringBackend):
    """Fails to store, with the password in its error text (some backends echo arguments)."""

    priority = 5
    viable = False

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        try:
            raise ValueError(f"bad item {password!r}")
        except ValueError as exc:
            raise keyring.errors.PasswordSetError(f"could not store {password}") from exc

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("nothing")


def everything_printed(exc: BaseException) -> str:
    """All a traceback, a log handler or a crash dialog could show of ``exc``."""
    return "\n".join(
        [str(exc), repr(exc), repr(exc.args), *traceback.format_exception(exc)],
    )


# --- the real Secret Service -------------------------------------------------------------------


def test_round_trip_is_stored_in_the_secret_service(secret_service: SecretServiceSession) -> None:
    assert secrets.get_api_key("elevenlabs") is None
    secrets.set_api_key("elevenlabs", MARKER + "\n")  # a pasted key with its newline
    key = secrets.get_api_key("elevenlabs")
    assert key is not None and key.reveal() == MARKER
    assert secrets.key_source("elevenlabs") == "keyring"
    # Another client of the same service sees it under service=voxtray, username=elevenlabs.
    assert secret_service.lookup("voxtray", "elevenlabs") == MARKER

    secrets.set_api_key("elevenlabs", Secret(OTHER))  # replaces, does not add a second item
    assert secret_service.lookup("voxtray", "elevenlabs") == OTHER
    assert secrets.delete_api_key("elevenlabs") is True
    assert secret_service.lookup("voxtray", "elevenlabs") is None
    assert secrets.get_api_key("elevenlabs") is None
    assert secrets.delete_api_key("elevenlabs") is False


def test_services_are_separate_usernames(secret_service: SecretServiceSession) -> None:
    secrets.set_api_key("elevenlabs", MARKER)
    secrets.set_api_key("otherprovider", OTHER)
    assert secret_service.lookup("voxtray", "otherprovider") == OTHER
    assert secrets.delete_api_key("otherprovider")
    key = secrets.get_api_key("elevenlabs")
    assert key is not None and key.reveal() == MARKER


def test_missing_key_is_none(secret_service: SecretServiceSession) -> None:
    assert secrets.get_api_key() is None
    assert secrets.key_source() is None


def test_the_environment_overrides_the_keyring(
    secret_service: SecretServiceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets.set_api_key("elevenlabs", OTHER)
    monkeypatch.setenv("ELEVENLABS_API_KEY", MARKER)
    key = secrets.get_api_key()
    assert key is not None and key.reveal() == MARKER
    assert secrets.key_source() == "environment"
    # Deleting removes the keyring's copy; the override still wins while it is set.
    assert secrets.delete_api_key() is True
    assert secrets.key_source() == "environment"

    monkeypatch.setenv("ELEVENLABS_API_KEY", "  ")  # set but empty: CI templates do this
    assert secrets.key_source() is None
    secrets.set_api_key("elevenlabs", OTHER)
    monkeypatch.delenv("ELEVENLABS_API_KEY")
    key = secrets.get_api_key()
    assert key is not None and key.reveal() == OTHER
    assert secrets.key_source() == "keyring"


def test_the_environment_works_without_any_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", MARKER)
    with installed_backend(fail.Keyring()):
        key = secrets.get_api_key()
        assert key is not None and key.reveal() == MARKER
        assert secrets.key_source() == "environment"


def test_describe_backend_names_the_secret_service(secret_service: SecretServiceSession) -> None:
    description = secrets.describe_backend()
    assert "keyring.backends.SecretService.Keyring" in description
    assert "priority 5" in description


def test_a_dead_bus_is_a_secrets_error(
    secret_service: SecretServiceSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'nobody'}")
    with pytest.raises(SecretsError) as caught:
        secrets.get_api_key()
    assert "GNOME Keyring" in caught.value.message
    assert "SecretService" in caught.value.message
    assert "none usable" in secrets.describe_backend()


def test_a_locked_keyring_is_a_secrets_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real locked login keyring; with no prompter to ask, the unlock prompt is dismissed.

    A separate Secret Service: nothing can unlock this one again without a prompter.
    """
    import secretstorage  # keyring's own dependency; only the test drives it directly

    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    session = SecretServiceSession.start()
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session.bus_address)
        with installed_backend(SecretService.Keyring()):
            secrets.set_api_key("elevenlabs", MARKER)
            connection = secretstorage.dbus_init()
            try:
                secretstorage.get_default_collection(connection).lock()
            finally:
                connection.close()
            with pytest.raises(SecretsError, match="locked") as caught:
                secrets.get_api_key()
            assert MARKER not in everything_printed(caught.value)
    finally:
        session.stop()


# --- no keyring, insecure keyrings -------------------------------------------------------------


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_no_backend_is_refused_with_guidance(
    backend: keyring.backend.KeyringBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    with installed_backend(backend):
        for call in (
            lambda: secrets.get_api_key(),
            lambda: secrets.set_api_key("elevenlabs", MARKER),
            lambda: secrets.delete_api_key(),
            lambda: secrets.key_source(),
        ):
            with pytest.raises(SecretsError) as caught:
                call()
            message = caught.value.message
            assert all(name in message for name in GUIDANCE), message
            assert "ELEVENLABS_API_KEY" in message
            assert caught.value.is_permanent
            assert MARKER not in everything_printed(caught.value)
        assert secrets.describe_backend().startswith("none usable")


def test_an_empty_chainer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.setattr(ChainerBackend, "backends", [])
    with installed_backend(ChainerBackend()), pytest.raises(SecretsError, match="KWallet"):
        secrets.set_api_key("elevenlabs", MARKER)


@pytest.mark.parametrize("backend_class", [PlaintextFileKeyring, DisguisedFileKeyring])
def test_a_plaintext_backend_is_refused(
    backend_class: type[PlaintextFileKeyring], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    store = tmp_path / "keyring_pass.cfg"
    backend = backend_class(store)
    backend.set_password("voxtray", "elevenlabs", OTHER)  # a key someone left there earlier
    with installed_backend(backend):
        with pytest.raises(SecretsError, match="not secure storage"):
            secrets.set_api_key("elevenlabs", MARKER)
        with pytest.raises(SecretsError, match="GNOME Keyring"):
            secrets.get_api_key()  # not even read: it is not the user's secure key
    assert MARKER not in store.read_text(encoding="utf-8")


def test_a_chain_uses_only_its_secure_backends(
    secret_service: SecretServiceSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext = PlaintextFileKeyring(tmp_path / "keyring_pass.cfg")
    plaintext.set_password("voxtray", "elevenlabs", OTHER)
    monkeypatch.setattr(ChainerBackend, "backends", [SecretService.Keyring(), plaintext])
    with installed_backend(ChainerBackend()):
        assert secrets.get_api_key() is None  # the plain-text copy is ignored
        secrets.set_api_key("elevenlabs", MARKER)
        assert secret_service.lookup("voxtray", "elevenlabs") == MARKER
        assert plaintext.get_password("voxtray", "elevenlabs") == OTHER
        assert "SecretService" in secrets.describe_backend()
        assert "keyring_pass" not in secrets.describe_backend()


# --- failures are translated, and never show the key -------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (keyring.errors.KeyringLocked("Failed to unlock the collection!"), "locked"),
        (keyring.errors.NoKeyringError("no"), "GNOME Keyring"),
        (keyring.errors.InitError("Failed to create the collection"), "InitError"),
        (ConnectionResetError("D-Bus connection dropped"), "ConnectionResetError"),
        (RuntimeError("org.freedesktop.DBus.Error.NoReply"), "NoReply"),
    ],
    ids=["locked", "nokeyring", "init", "dbus-dropped", "dbus-noreply"],
)
def test_keyring_failures_become_secrets_errors(
    error: Exception, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    with installed_backend(FaultyKeyring(error)):
        with pytest.raises(SecretsError, match=expected) as caught:
            secrets.get_api_key()
        assert caught.value.__cause__ is error
        with pytest.raises(SecretsError, match=expected) as caught:
            secrets.set_api_key("elevenlabs", MARKER)
        assert MARKER not in everything_printed(caught.value)


def test_an_error_echoing_the_key_is_not_chained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    with installed_backend(LeakyKeyring()), pytest.raises(SecretsError) as caught:
        secrets.set_api_key("elevenlabs", MARKER)
    assert "PasswordSetError" in caught.value.message
    assert MARKER not in everything_printed(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_key_never_reaches_logs_or_output(
    secret_service: SecretServiceSession,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, keyring's and secretstorage's included
    secrets.set_api_key("elevenlabs", MARKER)
    key = secrets.get_api_key()
    assert key is not None
    logging.getLogger("voxtray.test").info("using key %s (%r) %s", key, key, [key])
    print(key, repr(key), f"{key}", f"{key!r}", f"{key:>30}", {"key": key})
    monkeypatch.setenv("ELEVENLABS_API_KEY", MARKER)
    assert secrets.key_source() == "environment"
    assert secrets.delete_api_key()
    captured = capsys.readouterr()
    assert MARKER not in caplog.text
    assert MARKER not in captured.out + captured.err
    assert "••••6789" in captured.out  # what was shown instead


# --- the Secret type ---------------------------------------------------------------------------


def test_secret_masks_itself() -> None:
    secret = Secret(MARKER)
    assert str(secret) == "••••6789"
    assert repr(secret) == "Secret('••••6789')"
    assert f"{secret}" == "••••6789"
    assert secret.reveal() == MARKER
    assert str(Secret("abcdefgh")) == "••••gh"  # never more than a quarter of the key
    assert str(Secret("abc")) == "••••"
    assert Secret(MARKER) == Secret(MARKER) and Secret(MARKER) != Secret(OTHER)
    with pytest.raises(TypeError):
        hash(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError, match="empty"):
        Secret("")


def test_an_empty_key_is_not_stored(secret_service: SecretServiceSession) -> None:
    with pytest.raises(SecretsError, match="empty"):
        secrets.set_api_key("elevenlabs", " \n")
    assert secret_service.lookup("voxtray", "elevenlabs") is None


# --- async wrappers ----------------------------------------------------------------------------


async def test_async_wrappers_round_trip(secret_service: SecretServiceSession) -> None:
    await secrets.aset_api_key("elevenlabs", MARKER)
    key = await secrets.aget_api_key()
    assert key is not None and key.reveal() == MARKER
    assert await secrets.akey_source() == "keyring"
    assert "SecretService" in await secrets.adescribe_backend()
    assert await secrets.adelete_api_key() is True
    assert await secrets.aget_api_key() is None


async def test_a_slow_keyring_does_not_block_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    ticks = 0
    main_thread = threading.get_ident()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    slow = FaultyKeyring(keyring.errors.KeyringLocked("prompt dismissed"), delay=0.3)
    with installed_backend(slow):
        async with asyncio.TaskGroup() as group:
            task = group.create_task(ticker())
            with pytest.raises(SecretsError, match="locked"):
                await secrets.aget_api_key()
            task.cancel()
    assert ticks >= 10, "the event loop was blocked while the keyring answered"
    assert threading.get_ident() == main_thread


class SilentKeyring(keyring.backend.KeyringBackend):
    """Never answers until released: a locked keyring whose prompter never shows."""

    priority = 5
    viable = False

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.threads.append(threading.current_thread())
        self.release.wait(timeout=30)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


async def test_a_keyring_that_never_answers_can_be_abandoned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    silent = SilentKeyring()
    with installed_backend(silent):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await secrets.aget_api_key()
        assert time.monotonic() - started < 2
        # The stuck call runs in a daemon thread: it cannot keep the app from quitting.
        (thread,) = silent.threads
        assert thread.daemon and thread.is_alive()
        silent.release.set()
        thread.join(timeout=5)
        assert not thread.is_alive()
        await asyncio.sleep(0)  # its late result is dropped without an error
