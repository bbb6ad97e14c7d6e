"""API keys: read from the environment or the OS keyring, and never shown to anyone.

The ElevenLabs key lives in the user's OS keyring (keyring service ``"voxtray"``, username = the
provider id). An environment variable (``ELEVENLABS_API_KEY``) overrides it, so that the CLI and
CI work on machines with no keyring at all; the environment is consulted first and, when it
answers, the keyring is not touched. This is the only module that imports :mod:`keyring`.

**Only secure storage.** keyring happily falls back to backends that do not protect anything:
its ``fail`` and ``null`` backends, a ``chainer`` with nothing behind it, and (if keyrings.alt is
installed) plain-text or weakly encrypted files in the home directory. A key written there would
be readable by any program the user runs, so such backends are refused with a
:class:`~.errors.SecretsError` that tells the user how to get a real keyring. A backend is
secure when its ``priority`` is at least 1 (keyring's own threshold for "recommended") and its
module is not one of the known file backends. When keyring chains several backends, only the
secure ones in the chain are used.

**Never shown.** Keys travel as :class:`Secret`, whose ``repr``/``str``/format show at most its
last four characters, so an f-string, a log call or a crash dump of a local variable cannot
leak it; the HTTP client calls :meth:`Secret.reveal` at the one place it builds the header.
Exception messages built here never contain a key, and a foreign exception whose text contains
the key being stored is not chained as the cause (tracebacks would print it).

**Blocking.** Every keyring call may block: it crosses D-Bus, and a locked keyring may show an
unlock prompt and wait for the user (or, with no prompter in a headless session, hang for good).
The ``a``-prefixed coroutines run the same calls in a daemon thread so the event loop (and the
tray) stays responsive and the app can still quit. Cancelling one (``asyncio.timeout()``) stops
the waiting, not the call already running in its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import keyring
import keyring.errors
from keyring.backends.chainer import ChainerBackend

from .errors import SecretsError

__all__ = [
    "ENV_OVERRIDES",
    "KEYRING_SERVICE",
    "KeySource",
    "Secret",
    "adelete_api_key",
    "adescribe_backend",
    "aget_api_key",
    "akey_source",
    "aset_api_key",
    "delete_api_key",
    "describe_backend",
    "get_api_key",
    "key_source",
    "set_api_key",
]

log = logging.getLogger(__name__)

KEYRING_SERVICE = "voxtray"
"""The keyring's "service" under which every VoxTray key is stored (username = provider id)."""

ENV_OVERRIDES: dict[str, str] = {"elevenlabs": "ELEVENLABS_API_KEY"}
"""Environment variable that overrides the keyring, per provider id."""

KeySource = Literal["environment", "keyring"]

MIN_SECURE_PRIORITY = 1.0
"""keyring's own line between "recommended" backends and the rest (``keyring.core.recommended``)."""

_INSECURE_MODULES = (
    "keyring.backends.fail",  # raises on every call: there is no keyring
    "keyring.backends.null",  # silently forgets
    "keyrings.alt.file",  # plain-text and password-file backends in the home directory
    "keyrings.alt.pyfs",  # the same, on any PyFilesystem
    "keyrings.alt.escape",
)
"""Module prefixes refused whatever priority the backend claims (it can be raised by config)."""

NO_KEYRING_HELP = (
    "No secure keyring is available to store the API key. On Linux, install and start a "
    "Secret Service provider: GNOME Keyring (gnome-keyring), KWallet, or KeePassXC with its "
    "Secret Service integration enabled. On Windows (Credential Locker) and macOS (Keychain) "
    "one is built in. Without a keyring, set the key in the environment instead ({env})."
)

_T = TypeVar("_T")


class Secret:
    """A secret string that does not show itself.

    ``repr``, ``str`` and ``format`` give ``"••••abcd"``: the last characters help a user tell
    two keys apart, but at most four are shown and never more than a quarter of the key, so a
    short key shows nothing. :meth:`reveal` returns the real value; call it only where the
    value leaves the process (an HTTP header, the keyring itself). Equality is constant-time;
    a secret is deliberately unhashable so it does not end up as a dict key in some cache.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a str")
        if not value:
            raise ValueError("a Secret cannot be empty")
        self._value = value

    def reveal(self) -> str:
        """The real value. Never log, print or put it into an exception."""
        return self._value

    @property
    def masked(self) -> str:
        shown = min(4, len(self._value) // 4)
        return "••••" + (self._value[-shown:] if shown else "")

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, format_spec: str) -> str:
        return format(self.masked, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # unhashable on purpose (see the docstring)

    def __reduce__(self) -> Any:
        # Pickling would write the value somewhere (a multiprocessing queue, a cache file).
        raise TypeError("a Secret cannot be pickled")


def key_fingerprint(key: str) -> str:
    """A one-way name for a key: tells two keys apart (the user saved a new one) without
    keeping the key itself in yet another place."""
    return hashlib.sha256(key.encode()).hexdigest()


def get_api_key(service: str = "elevenlabs") -> Secret | None:
    """The key for ``service``: the environment override, else the keyring, else ``None``.

    An override variable that is set but empty (or only whitespace) counts as unset: CI
    templates often define the variable with no value. Raises :class:`SecretsError` if the
    keyring has to be asked and no secure one is available, or the keyring fails.
    """
    from_env = _from_environment(service)
    if from_env is not None:
        return from_env
    value = _with_backends(service, "read", lambda b: _first_value(b, service))
    return Secret(value) if value else None


def set_api_key(service: str, key: str | Secret) -> None:
    """Store ``key`` for ``service`` in the keyring (replacing any older one).

    Whitespace around the key (a trailing newline from a paste) is removed. The environment
    override is not affected: while it is set it still wins, which :func:`key_source` shows.
    """
    value = (key.reveal() if isinstance(key, Secret) else key).strip()
    if not value:
        raise SecretsError("The API key is empty.")
    _with_backends(
        service, "store", lambda b: b[0].set_password(KEYRING_SERVICE, service, value), secret=value
    )
    log.info("stored the %s API key in the keyring", service)


def delete_api_key(service: str = "elevenlabs") -> bool:
    """Remove the key for ``service`` from the keyring; ``True`` if there was one.

    The environment override is not touched (the process cannot unset its parent's variable).
    """

    def delete(backends: Sequence[Any]) -> bool:
        deleted = False
        for backend in backends:
            if backend.get_password(KEYRING_SERVICE, service) is None:
                continue
            try:
                backend.delete_password(KEYRING_SERVICE, service)
            except keyring.errors.PasswordDeleteError:
                continue  # gone between the two calls: what we wanted
            deleted = True
        return deleted

    deleted = _with_backends(service, "delete", delete)
    if deleted:
        log.info("deleted the %s API key from the keyring", service)
    return deleted


def key_source(service: str = "elevenlabs") -> KeySource | None:
    """Where :func:`get_api_key` would take the key from, or ``None`` if there is none."""
    if _from_environment(service) is not None:
        return "environment"
    found = _with_backends(service, "read", lambda b: _first_value(b, service))
    return "keyring" if found else None


def describe_backend() -> str:
    """A line for ``voxtray key status``: which keyring is used, or why none can be.

    Never raises for a missing keyring: saying so is the point of the status line.
    """
    try:
        backends = _secure_backends()
    except SecretsError as exc:
        return f"none usable ({exc.message})"
    return ", ".join(_describe(b) for b in backends)


async def aget_api_key(service: str = "elevenlabs") -> Secret | None:
    """:func:`get_api_key` in a worker thread (the keyring may block on D-Bus or a prompt).

    A prompt waits as long as the user takes; bound it with ``asyncio.timeout()`` where a
    caller cannot wait that long (the CLI on a headless machine).
    """
    return await _off_loop(get_api_key, service)


async def aset_api_key(service: str, key: str | Secret) -> None:
    """:func:`set_api_key` in a worker thread."""
    await _off_loop(set_api_key, service, key)


async def adelete_api_key(service: str = "elevenlabs") -> bool:
    """:func:`delete_api_key` in a worker thread."""
    return await _off_loop(delete_api_key, service)


async def akey_source(service: str = "elevenlabs") -> KeySource | None:
    """:func:`key_source` in a worker thread."""
    return await _off_loop(key_source, service)


async def adescribe_backend() -> str:
    """:func:`describe_backend` in a worker thread (probing a backend talks to D-Bus)."""
    return await _off_loop(describe_backend)


async def _off_loop(func: Callable[..., _T], *args: object) -> _T:
    """Run ``func(*args)`` in a daemon thread of its own and await its result.

    Not ``asyncio.to_thread``: a locked Secret Service with no prompter to ask the user (a
    headless session, a crashed prompter) never answers, and the default executor's threads
    are joined at interpreter exit, so one stuck call would keep the app from ever quitting.
    A daemon thread is abandoned at exit instead. Cancelling (or timing out) stops the
    waiting; the call itself cannot be interrupted and ends whenever the keyring answers.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # cancelled or timed out meanwhile: nobody wants the result
            outcome()

    def work() -> None:
        try:
            result = func(*args)
        except BaseException as exc:
            error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed while we waited
                loop.call_soon_threadsafe(settle, lambda: future.set_exception(error))
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, lambda: future.set_result(result))

    name = getattr(func, "__name__", "call")
    threading.Thread(target=work, name=f"voxtray-keyring-{name}", daemon=True).start()
    return await future


# --- internals ---------------------------------------------------------------------------------


def _env_name(service: str) -> str | None:
    return ENV_OVERRIDES.get(service)


def _from_environment(service: str) -> Secret | None:
    _check_service(service)
    name = _env_name(service)
    if name is None:
        return None
    value = os.environ.get(name, "").strip()
    return Secret(value) if value else None


def _check_service(service: str) -> None:
    if not service or not service.isprintable():
        raise ValueError(f"not a service name: {service!r}")


def _help() -> str:
    names = sorted(set(ENV_OVERRIDES.values()))
    return NO_KEYRING_HELP.format(env=", ".join(names))


def _first_value(backends: Sequence[Any], service: str) -> str | None:
    for backend in backends:
        value = backend.get_password(KEYRING_SERVICE, service)
        if value:
            return str(value)
    return None


def _priority(backend: Any) -> float:
    """The backend's priority; probing it may raise when the backend cannot work here."""
    return float(type(backend).priority)


def _is_insecure_module(backend: Any) -> bool:
    module = type(backend).__module__
    return any(module == m or module.startswith(m + ".") for m in _INSECURE_MODULES)


def _describe(backend: Any) -> str:
    cls = type(backend)
    try:
        priority = f"priority {_priority(backend):g}"
    except Exception:  # describing must not fail; the reason shows up when it is used
        priority = "unavailable"
    return f"{cls.__module__}.{cls.__qualname__} ({priority})"


def _secure_backends() -> list[Any]:
    """The keyring backends a key may be stored in, best first; raise if there are none.

    keyring picks its backend on first use (environment, config file, then the highest
    priority); that choice is checked here rather than trusted.
    """
    try:
        chosen = keyring.get_keyring()
        candidates = list(chosen.backends) if isinstance(chosen, ChainerBackend) else [chosen]
    except Exception as exc:  # the backend probe itself failed (a broken plugin, D-Bus)
        raise SecretsError(f"{_help()} (keyring could not start: {type(exc).__name__})") from exc
    secure: list[Any] = []
    reasons: list[str] = []
    for backend in candidates:
        try:
            priority = _priority(backend)
        except Exception as exc:  # keyring's convention: a backend that cannot work raises here
            reasons.append(f"{_describe(backend)}: {_scrub(str(exc), None)}")
            continue
        if priority < MIN_SECURE_PRIORITY or _is_insecure_module(backend):
            reasons.append(f"{_describe(backend)} is not secure storage")
            continue
        secure.append(backend)
    if not secure:
        if not reasons:
            reasons.append(f"{_describe(chosen)} has no backend behind it")
        raise SecretsError(f"{_help()} ({'; '.join(reasons)})")
    return secure


def _with_backends(
    service: str,
    action: str,
    call: Callable[[list[Any]], _T],
    *,
    secret: str | None = None,
) -> _T:
    """Run ``call`` on the secure backends, translating every keyring failure.

    keyring's backends raise their own errors (KeyringError and its subclasses) but also those
    of the layers below (secretstorage, jeepney's D-Bus errors, OSError, RuntimeError), with
    no common base: this is the boundary where all of them become a SecretsError. The cause is
    chained for a developer, unless its text contains ``secret``.
    """
    _check_service(service)
    backends = _secure_backends()
    try:
        return call(backends)
    except keyring.errors.KeyringLocked as exc:
        error = SecretsError(
            f"The keyring is locked, so the {service} API key could not be {_DONE[action]}: "
            "unlock it (usually by logging in again or in the keyring app) and try again."
        )
        cause: BaseException = exc
    except keyring.errors.NoKeyringError as exc:
        error = SecretsError(_help())
        cause = exc
    except Exception as exc:
        detail = _scrub(str(exc), secret)
        error = SecretsError(
            f"The keyring ({_describe(backends[0])}) failed to {action} the {service} API key: "
            f"{type(exc).__name__}{': ' + detail if detail else ''}"
        )
        cause = exc
    # Raised outside the except blocks so a leaky cause does not become the implicit context.
    if secret is not None and _mentions(cause, secret):
        raise error from None
    raise error from cause


_MAX_DETAIL = 200
_DONE = {"read": "read", "store": "stored", "delete": "deleted"}


def _scrub(text: str, secret: str | None) -> str:
    """A foreign error text fit for a message: the secret masked out, and short."""
    if secret:
        text = text.replace(secret, Secret(secret).masked)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _mentions(exc: BaseException, secret: str) -> bool:
    """Whether ``secret`` appears anywhere a traceback of ``exc`` would print it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if secret in str(current) or secret in repr(current.args):
            return True
        current = current.__cause__ or current.__context__
    return False
