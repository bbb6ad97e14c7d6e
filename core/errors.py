"""The one error tree of the engine.

Every failure the engine reports is a :class:`VoxTrayError`; foreign exceptions (OSError,
PortAudioError, onnxruntime errors, httpx errors…) are translated where they enter the engine,
with ``raise … from exc`` so the cause stays visible to a developer while the user sees a plain
sentence. Each error carries a :class:`ErrorCategory`; ``is_permanent`` says whether trying the
same thing again can help, which is what the retry and fallback logic decide on.

Cancellation is never an error: ``asyncio.CancelledError`` always propagates untouched.
Underruns are counters in the stats, not exceptions.

::

    VoxTrayError
    ├── InputError                 the text or file given cannot be spoken (permanent)
    │   ├── EmptyTextError         nothing but whitespace
    │   ├── SourceNotFoundError    the file does not exist or is not a regular file
    │   ├── SourceUnreadableError  permission denied, I/O error
    │   ├── BinaryFileError        the file is not text
    │   ├── UnsupportedDocumentError  a kind of file VoxTray cannot read aloud (a scan, a .doc…)
    │   ├── ProtectedDocumentError    encrypted or DRM-locked (a password-protected PDF…)
    │   ├── DamagedDocumentError      a PDF, EPUB or Word file that is truncated or corrupt
    │   └── ExportTargetError      an export's file cannot be written as asked (folder, format)
    ├── ProviderError              a speech provider failed
    │   ├── VoiceNotFoundError     unknown voice id (permanent)
    │   ├── ProviderUnavailableError  the provider cannot start (model missing…) (permanent)
    │   ├── SynthesisError         one synthesis call failed (transient)
    │   ├── AuthenticationError    the key is missing, wrong or revoked (permanent)
    │   ├── QuotaExceededError     the plan's characters are used up (permanent until reset)
    │   ├── RateLimitedError       too many requests now: concurrency, busy service (retry)
    │   ├── ServiceError           the service failed (5xx, server-side close) (transient)
    │   ├── ConnectionLostError    offline, refused, dropped mid-stream, timed out (transient)
    │   ├── ProtocolError          a reply that does not follow the protocol (transient)
    │   └── RequestRejectedError   the service refused this request as given (400/422) (permanent)
    ├── AudioError                 the sound card side
    │   ├── NoOutputDeviceError    no usable output device (permanent)
    │   └── OutputDeviceLostError  the device went away mid-stream (transient: reopen)
    ├── SettingsError              the settings file cannot be used (permanent)
    ├── SecretsError               the OS keyring cannot be used (permanent)
    └── InstanceError              the single-instance channel failed (ipc.py)
        ├── AlreadyRunningError    another VoxTray of this user serves the channel
        └── InstanceUnavailableError  no single-instance channel on this platform

``VoxTrayWarning`` is the engine's warning category (broken UTF-8 decoded with replacements,
a settings file ignored…); the test suite turns it into errors unless a test expects it.
"""

from __future__ import annotations

from enum import Enum


class ErrorCategory(Enum):
    """What kind of failure this is, which decides whether a retry can help."""

    INPUT = "input"  # the user's text or file: retrying the same input fails the same way
    CONFIGURATION = "configuration"  # settings, missing voice, no device: needs a human
    TRANSIENT = "transient"  # a hiccup: the same call may succeed a moment later
    AUTHENTICATION = "authentication"  # bad or revoked credentials
    QUOTA = "quota"  # the plan's allowance is used up
    RATE_LIMIT = "rate_limit"  # too many requests now; later will work

    @property
    def is_permanent(self) -> bool:
        return self not in (ErrorCategory.TRANSIENT, ErrorCategory.RATE_LIMIT)


class VoxTrayError(Exception):
    """Base of every error the engine raises.

    ``str(error)`` is a plain-language sentence fit to show a user as it is. It never
    contains a secret.
    """

    category: ErrorCategory = ErrorCategory.CONFIGURATION

    def __init__(self, message: str, *, category: ErrorCategory | None = None) -> None:
        super().__init__(message)
        if category is not None:
            self.category = category

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def is_permanent(self) -> bool:
        return self.category.is_permanent


class VoxTrayWarning(UserWarning):
    """Something was wrong but handled without losing anything (the user should still know)."""


class InputError(VoxTrayError):
    category = ErrorCategory.INPUT


class EmptyTextError(InputError):
    def __init__(self, message: str = "There is no text to speak.") -> None:
        super().__init__(message)


class SourceNotFoundError(InputError):
    pass


class SourceUnreadableError(InputError):
    pass


class BinaryFileError(InputError):
    pass


class UnsupportedDocumentError(InputError):
    """The file is intact, but not something VoxTray can turn into speech."""


class ProtectedDocumentError(InputError):
    """The document is encrypted; VoxTray never asks for or guesses passwords."""


class DamagedDocumentError(InputError):
    """The document's structure is broken (truncated download, corrupt archive)."""


class ExportTargetError(InputError):
    """The audio file cannot be written as asked: a format its name contradicts, a folder that
    is missing or read-only. The user's to change, so an input error (the CLI exits with 2)."""


class ProviderError(VoxTrayError):
    category = ErrorCategory.TRANSIENT


class VoiceNotFoundError(ProviderError):
    category = ErrorCategory.CONFIGURATION


class ProviderUnavailableError(ProviderError):
    category = ErrorCategory.CONFIGURATION


class SynthesisError(ProviderError):
    category = ErrorCategory.TRANSIENT


class AuthenticationError(ProviderError):
    category = ErrorCategory.AUTHENTICATION


class QuotaExceededError(ProviderError):
    category = ErrorCategory.QUOTA


class RateLimitedError(ProviderError):
    """Too many requests right now; ``kind`` says which limit, ``retry_after`` when to retry."""

    category = ErrorCategory.RATE_LIMIT

    def __init__(self, message: str, *, kind: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        """``"concurrency"``, ``"system_busy"`` or ``"rate_limit"``."""
        self.retry_after = retry_after


class ServiceError(ProviderError):
    category = ErrorCategory.TRANSIENT


class ConnectionLostError(ProviderError):
    category = ErrorCategory.TRANSIENT


class ProtocolError(ProviderError):
    category = ErrorCategory.TRANSIENT


class RequestRejectedError(ProviderError):
    category = ErrorCategory.CONFIGURATION


class AudioError(VoxTrayError):
    category = ErrorCategory.CONFIGURATION


class NoOutputDeviceError(AudioError):
    category = ErrorCategory.CONFIGURATION


class OutputDeviceLostError(AudioError):
    category = ErrorCategory.TRANSIENT


class SettingsError(VoxTrayError):
    category = ErrorCategory.CONFIGURATION


class SecretsError(VoxTrayError):
    category = ErrorCategory.CONFIGURATION


class InstanceError(VoxTrayError):
    """The local channel to the running tray app failed (refused, no answer, bad reply)."""

    category = ErrorCategory.TRANSIENT


class AlreadyRunningError(InstanceError):
    category = ErrorCategory.CONFIGURATION


class InstanceUnavailableError(InstanceError):
    category = ErrorCategory.CONFIGURATION
