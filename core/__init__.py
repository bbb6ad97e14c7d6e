"""VoxTray's engine: everything that speaks, with no user interface in it.

The public API is declared once, here; ``tests/unit/test_public_api.py`` locks it.

The narrator is imported on first use (PEP 562): it pulls in numpy, PortAudio, the voices and
the document readers (about 0.4 s), and the commands a user binds to keys (``voxtray stop``,
``voxtray pause``) only talk to the running tray app. Importing ``voxtray.core.ipc`` for them
must not cost the whole engine.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .errors import ErrorCategory, VoxTrayError, VoxTrayWarning
from .model import (
    AudioChunk,
    Event,
    FirstAudio,
    OutputDeviceChanged,
    Priority,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestId,
    RequestQueued,
    RequestStarted,
    RequestWarning,
    Segment,
    SegmentAudible,
    SpeakRequest,
    TerminalEvent,
    Voice,
    VoiceRef,
)

if TYPE_CHECKING:
    from .narrator import Narrator, QueuedItem, RequestHandle

_LAZY = frozenset({"Narrator", "QueuedItem", "RequestHandle"})

try:
    __version__ = version("voxtray")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "AudioChunk",
    "ErrorCategory",
    "Event",
    "FirstAudio",
    "Narrator",
    "OutputDeviceChanged",
    "Priority",
    "QueuedItem",
    "RequestCanceled",
    "RequestFailed",
    "RequestFinished",
    "RequestHandle",
    "RequestId",
    "RequestQueued",
    "RequestStarted",
    "RequestWarning",
    "Segment",
    "SegmentAudible",
    "SpeakRequest",
    "TerminalEvent",
    "Voice",
    "VoiceRef",
    "VoxTrayError",
    "VoxTrayWarning",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import narrator

        return getattr(narrator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
