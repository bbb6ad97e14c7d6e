"""The account endpoints: subscription, user, voices and models (§4), decoded without I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import ProtocolError

# --- account, voices, models ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    """``GET /v1/user/subscription`` (§4). Characters are credits on newer plans."""

    tier: str
    character_count: int
    character_limit: int
    next_character_count_reset_unix: int | None = None
    status: str | None = None
    can_extend_character_limit: bool | None = None
    voice_slots_used: int | None = None
    voice_limit: int | None = None
    currency: str | None = None
    billing_period: str | None = None
    character_refresh_period: str | None = None

    @property
    def characters_left(self) -> int:
        return max(0, self.character_limit - self.character_count)


@dataclass(frozen=True, slots=True)
class User:
    """``GET /v1/user`` (§4); the key fields it carries are deliberately not kept."""

    user_id: str | None
    subscription: Subscription | None
    first_name: str | None = None
    is_new_user: bool | None = None


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """One voice of ``GET /v1/voices``."""

    voice_id: str
    name: str
    category: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    preview_url: str | None = None
    languages: tuple[str, ...] = ()
    high_quality_base_model_ids: tuple[str, ...] = ()

    @property
    def language(self) -> str:
        """The voice's main language if it says, else ``"und"`` (undetermined)."""
        return self.labels.get("language") or (self.languages[0] if self.languages else "und")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model of ``GET /v1/models``."""

    model_id: str
    name: str
    can_do_text_to_speech: bool = True
    languages: tuple[str, ...] = ()
    max_characters_request_subscribed_user: int | None = None
    max_characters_request_free_user: int | None = None
    concurrency_group: str | None = None
    character_cost_multiplier: float | None = None


def _expect_object(obj: object, what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ProtocolError(f"ElevenLabs sent a {what} answer that is not a JSON object.")
    return obj


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def parse_subscription(obj: object) -> Subscription:
    data = _expect_object(obj, "subscription")
    count, limit = data.get("character_count"), data.get("character_limit")
    if not isinstance(data.get("tier"), str) or _opt_int(count) is None or _opt_int(limit) is None:
        raise ProtocolError("ElevenLabs sent a subscription without tier or character counts.")
    return Subscription(
        tier=data["tier"],
        character_count=int(count),  # type: ignore[arg-type]  # checked by _opt_int above
        character_limit=int(limit),  # type: ignore[arg-type]  # same
        next_character_count_reset_unix=_opt_int(data.get("next_character_count_reset_unix")),
        status=_str(data.get("status")),
        can_extend_character_limit=_opt_bool(data.get("can_extend_character_limit")),
        voice_slots_used=_opt_int(data.get("voice_slots_used")),
        voice_limit=_opt_int(data.get("voice_limit")),
        currency=_str(data.get("currency")),
        billing_period=_str(data.get("billing_period")),
        character_refresh_period=_str(data.get("character_refresh_period")),
    )


def parse_user(obj: object) -> User:
    data = _expect_object(obj, "user")
    sub = data.get("subscription")
    return User(
        user_id=_str(data.get("user_id")),
        subscription=parse_subscription(sub) if isinstance(sub, dict) else None,
        first_name=_str(data.get("first_name")),
        is_new_user=_opt_bool(data.get("is_new_user")),
    )


def parse_voices(obj: object) -> list[VoiceInfo]:
    data = _expect_object(obj, "voices")
    items = data.get("voices")
    if not isinstance(items, list):
        raise ProtocolError("ElevenLabs sent a voice list without voices.")
    voices = []
    for item in items:
        if not isinstance(item, dict) or not _str(item.get("voice_id")):
            continue
        labels = item.get("labels") if isinstance(item.get("labels"), dict) else {}
        verified = item.get("verified_languages")
        languages = tuple(
            str(v["language"])
            for v in (verified if isinstance(verified, list) else [])
            if isinstance(v, dict) and _str(v.get("language"))
        )
        models = item.get("high_quality_base_model_ids")
        voices.append(
            VoiceInfo(
                voice_id=item["voice_id"],
                name=_str(item.get("name")) or item["voice_id"],
                category=_str(item.get("category")),
                labels={str(k): str(v) for k, v in (labels or {}).items() if v is not None},
                description=_str(item.get("description")),
                preview_url=_str(item.get("preview_url")),
                languages=languages,
                high_quality_base_model_ids=tuple(
                    str(m) for m in (models if isinstance(models, list) else [])
                ),
            )
        )
    return voices


def parse_models(obj: object) -> list[ModelInfo]:
    if not isinstance(obj, list):
        raise ProtocolError("ElevenLabs sent a model list that is not a JSON array.")
    models = []
    for item in obj:
        if not isinstance(item, dict) or not _str(item.get("model_id")):
            continue
        languages = item.get("languages")
        rates = item.get("model_rates")
        multiplier = rates.get("character_cost_multiplier") if isinstance(rates, dict) else None
        models.append(
            ModelInfo(
                model_id=item["model_id"],
                name=_str(item.get("name")) or item["model_id"],
                can_do_text_to_speech=item.get("can_do_text_to_speech") is not False,
                languages=tuple(
                    str(lang["language_id"])
                    for lang in (languages if isinstance(languages, list) else [])
                    if isinstance(lang, dict) and _str(lang.get("language_id"))
                ),
                max_characters_request_subscribed_user=_opt_int(
                    item.get("max_characters_request_subscribed_user")
                ),
                max_characters_request_free_user=_opt_int(
                    item.get("max_characters_request_free_user")
                ),
                concurrency_group=_str(item.get("concurrency_group")),
                character_cost_multiplier=(
                    float(multiplier) if isinstance(multiplier, int | float) else None
                ),
            )
        )
    return models


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
