"""What the fake knows about the service: voices, models, per-model limits and per-plan concurrency.

The numbers follow /work/shared/elevenlabs-api.md (§3.3 per-plan concurrency, §5 per-model character
limits). Where that document marks a value UNCONFIRMED, the documented (older) value is used and the
point is noted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ConcurrencyGroup = Literal["standard", "turbo"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    name: str
    max_characters: int
    concurrency_group: ConcurrencyGroup
    websocket: bool = True
    """Whether the stream-input sockets accept the model (eleven_v3 has no TTS WebSocket)."""


MODELS: dict[str, ModelInfo] = {
    m.model_id: m
    for m in (
        ModelInfo("eleven_flash_v2_5", "Eleven Flash v2.5", 40_000, "turbo"),
        ModelInfo("eleven_flash_v2", "Eleven Flash v2", 30_000, "turbo"),
        ModelInfo("eleven_turbo_v2_5", "Eleven Turbo v2.5", 40_000, "turbo"),
        ModelInfo("eleven_turbo_v2", "Eleven Turbo v2", 30_000, "turbo"),
        ModelInfo("eleven_multilingual_v2", "Eleven Multilingual v2", 10_000, "standard"),
        # §5: 3,000 per the 2025 docs; "5,000 in 2026" is UNCONFIRMED, so the documented value wins.
        ModelInfo("eleven_v3", "Eleven v3 (alpha)", 3_000, "standard", websocket=False),
    )
}
DEFAULT_MODEL_ID = "eleven_multilingual_v2"
"""§0: the 2025 OpenAPI default when a request names no model."""

TIER_CONCURRENCY: dict[str, dict[ConcurrencyGroup, int]] = {
    "free": {"standard": 2, "turbo": 4},
    "starter": {"standard": 3, "turbo": 6},
    "creator": {"standard": 5, "turbo": 10},
    "pro": {"standard": 10, "turbo": 20},
    "scale": {"standard": 15, "turbo": 30},
    "business": {"standard": 15, "turbo": 30},
    # "Elevated" in the docs; any number will do for a fake.
    "enterprise": {"standard": 30, "turbo": 60},
}

PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The ``pcm_*`` output formats the fake serves; other formats get a 400 (see protocol)."""


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    voice_id: str
    name: str
    gender: str
    accent: str
    age: str
    description: str
    use_case: str


VOICES: dict[str, VoiceInfo] = {
    v.voice_id: v
    for v in (
        VoiceInfo(
            "21m00Tcm4TlvDq8ikWAM", "Rachel", "female", "american", "young", "calm", "narration"
        ),
        VoiceInfo(
            "pNInz6obpgDQGcFmaJgB", "Adam", "male", "american", "middle aged", "deep", "narration"
        ),
        VoiceInfo(
            "EXAVITQu4vr4xnSDxMaL", "Bella", "female", "american", "young", "soft", "narration"
        ),
        VoiceInfo(
            "ErXwobaYiN019PkySvjV",
            "Antoni",
            "male",
            "american",
            "young",
            "well-rounded",
            "narration",
        ),
        VoiceInfo("TxGEqnHWrfWFTfGW9XjX", "Josh", "male", "american", "young", "deep", "narration"),
    )
}


def voice_json(voice: VoiceInfo) -> dict[str, Any]:
    """A ``VoiceResponseModel`` with the required fields and the common optional ones."""
    return {
        "voice_id": voice.voice_id,
        "name": voice.name,
        "category": "premade",
        "labels": {
            "accent": voice.accent,
            "description": voice.description,
            "age": voice.age,
            "gender": voice.gender,
            "use_case": voice.use_case,
        },
        "description": None,
        "preview_url": f"https://storage.example.invalid/premade/voices/{voice.voice_id}/preview.mp3",
        "available_for_tiers": [],
        "high_quality_base_model_ids": ["eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3"],
        "settings": None,
        "samples": None,
        "fine_tuning": None,
        "sharing": None,
        "verified_languages": [],
        "is_owner": False,
        "is_legacy": False,
        "is_mixed": False,
        "created_at_unix": None,
    }


def model_json(model: ModelInfo) -> dict[str, Any]:
    """A ``ModelResponseModel``."""
    return {
        "model_id": model.model_id,
        "name": model.name,
        "description": f"{model.name} (served by the VoxTray test fake).",
        "can_do_text_to_speech": True,
        "can_do_voice_conversion": False,
        "can_be_finetuned": True,
        "can_use_style": model.concurrency_group == "standard",
        "can_use_speaker_boost": True,
        "serves_pro_voices": False,
        "token_cost_factor": 1.0 if model.concurrency_group == "standard" else 0.5,
        "requires_alpha_access": False,
        "max_characters_request_free_user": model.max_characters,
        "max_characters_request_subscribed_user": model.max_characters,
        "maximum_text_length_per_request": model.max_characters,
        "languages": [{"language_id": "en", "name": "English"}],
        "model_rates": {"character_cost_multiplier": 1.0},
        "concurrency_group": model.concurrency_group,
    }
