"""A faithful local fake of the ElevenLabs text-to-speech API, for tests and manual runs.

It follows /work/shared/elevenlabs-api.md, not any client: a client that works against it should
work against the real service. Start it with ``python -m tests.fakes.elevenlabs --port 0`` or use
:class:`FakeElevenLabs` (or the ``fake_elevenlabs`` pytest fixture from ``.fixture``).
"""

from .catalog import MODELS, TIER_CONCURRENCY, VOICES, ModelInfo, VoiceInfo
from .faults import FakeConfig, Faults, RequestFaults
from .protocol import fingerprint
from .server import FakeElevenLabs
from .state import ConnectionRecord, ContextRecord, RequestRecord
from .synth import tone_pitch

__all__ = [
    "MODELS",
    "TIER_CONCURRENCY",
    "VOICES",
    "ConnectionRecord",
    "ContextRecord",
    "FakeConfig",
    "FakeElevenLabs",
    "Faults",
    "ModelInfo",
    "RequestFaults",
    "RequestRecord",
    "VoiceInfo",
    "fingerprint",
    "tone_pitch",
]
