"""VoxTray's engine: everything that speaks, with no user interface in it.

The public API is declared once, here; ``tests/unit/test_public_api.py`` locks it.
"""

from importlib.metadata import PackageNotFoundError, version

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
from .narrator import Narrator, QueuedItem, RequestHandle

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
