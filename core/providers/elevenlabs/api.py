"""The ElevenLabs text-to-speech protocol, without any I/O: requests and socket messages.

Everything in this package except :mod:`.http` and :mod:`.ws` is sans-I/O: pure functions and
frozen values that the shells call and the tests feed with recorded bodies and frames.

* :mod:`.api` (this module): the models and their rules, HTTP requests, WebSocket URLs and
  the messages of ``multi-stream-input`` and ``stream-input``;
* :mod:`.frames`: what comes back with the audio (raw PCM, NDJSON lines, socket frames);
* :mod:`.errors`: the three error-body shapes, close codes, error frames and response headers,
  turned into :mod:`voxtray.core.errors`;
* :mod:`.account`: subscription, user, voices and models.

The facts come from ``/work/shared/elevenlabs-api.md`` (section numbers in comments refer to
it). Where it marks a point UNCONFIRMED, the decoders accept every variant it lists and the
builders send the most widely used spelling.

Secrets: a key only ever goes into the ``xi-api-key`` header (:func:`auth_headers`); every
message built from text the server sent passes :func:`redact`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from ...errors import AuthenticationError, RequestRejectedError, VoiceNotFoundError

DEFAULT_BASE_URL: Final = "https://api.elevenlabs.io"
DEFAULT_MODEL_ID: Final = "eleven_flash_v2_5"
DEFAULT_SAMPLE_RATE: Final = 22050
API_KEY_HEADER: Final = "xi-api-key"

PCM_SAMPLE_RATES: Final = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
"""``pcm_<rate>`` formats of the HTTP endpoints (SDK 2026 enum, §1.2). 44100 needs Pro."""
WEBSOCKET_PCM_SAMPLE_RATES: Final = (8000, 16000, 22050, 24000, 44100)
"""``pcm_<rate>`` formats the WebSocket endpoints list (asyncapi, §2.1)."""

MAX_CONTEXTS_PER_SOCKET: Final = 5
"""Open contexts per multi-context socket, counting those still closing (§2.2)."""
DEFAULT_INACTIVITY_TIMEOUT: Final = 20
MAX_INACTIVITY_TIMEOUT: Final = 180
MAX_STITCHING_IDS: Final = 3
MAX_CONTEXT_TEXT: Final = 1000
"""Longest ``previous_text``/``next_text`` sent: enough for prosody, not a second bill."""

MODEL_CHARACTER_LIMITS: Final[Mapping[str, int]] = {
    "eleven_flash_v2_5": 40_000,
    "eleven_flash_v2": 30_000,
    "eleven_turbo_v2_5": 40_000,
    "eleven_turbo_v2": 30_000,
    "eleven_multilingual_v2": 10_000,
    "eleven_v3": 3_000,  # the 2025 figure; 5,000 in 2026 is unconfirmed (§5)
}
DEFAULT_CHARACTER_LIMIT: Final = 3_000
"""For a model this table does not know: the smallest documented limit."""

_LANGUAGE_CODE_MODELS: Final = frozenset({"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3"})
_NO_WEBSOCKET_MODELS: Final = frozenset({"eleven_v3"})
_NO_STITCHING_MODELS: Final = frozenset({"eleven_v3"})

PLAN_CONCURRENCY: Final[Mapping[str, tuple[int, int]]] = {
    # tier: (Multilingual v2 and v3, Turbo and Flash) — models.mdx 2025-08 (§3.3)
    "free": (2, 4),
    "starter": (3, 6),
    "creator": (5, 10),
    "pro": (10, 20),
    "independent_publisher": (10, 20),  # the older name of Pro
    "scale": (15, 30),
    "growing_business": (15, 30),  # the older name of Scale
    "business": (15, 30),
    "enterprise": (15, 30),  # "elevated": at least Business
}


# --- models, plans, formats -------------------------------------------------------------------


def model_character_limit(model_id: str) -> int:
    """The longest text one request may carry for a model (§5)."""
    return MODEL_CHARACTER_LIMITS.get(model_id, DEFAULT_CHARACTER_LIMIT)


def supports_websocket(model_id: str) -> bool:
    """``eleven_v3`` has no text-to-speech WebSocket (§2.1)."""
    return model_id not in _NO_WEBSOCKET_MODELS


def supports_stitching(model_id: str) -> bool:
    """``eleven_v3`` takes neither request ids nor ``previous_text``/``next_text`` (§1.6)."""
    return model_id not in _NO_STITCHING_MODELS


def supports_language_code(model_id: str) -> bool:
    """Only flash/turbo v2.5 and v3 accept ``language_code``; multilingual v2 rejects it (§1.3)."""
    return model_id in _LANGUAGE_CODE_MODELS


def plan_concurrency(tier: str, model_id: str) -> int:
    """Concurrent requests a plan allows for a model; an unknown tier gets the Free figures."""
    key = tier.strip().lower()
    limits = PLAN_CONCURRENCY.get(key)
    if limits is None:
        # Tier strings can carry suffixes ("creator_2024"…): match on the known prefix.
        matches = [v for name, v in PLAN_CONCURRENCY.items() if key.startswith(name)]
        limits = matches[0] if matches else PLAN_CONCURRENCY["free"]
    fast = model_id.startswith(("eleven_flash", "eleven_turbo"))
    return limits[1] if fast else limits[0]


def output_format(sample_rate: int, *, websocket: bool = False) -> str:
    """The ``output_format`` value for raw 16-bit PCM at ``sample_rate``."""
    rates = WEBSOCKET_PCM_SAMPLE_RATES if websocket else PCM_SAMPLE_RATES
    if sample_rate not in rates:
        raise ValueError(
            f"ElevenLabs has no {sample_rate} Hz PCM output"
            f"{' on its WebSocket' if websocket else ''}; use one of {rates}"
        )
    return f"pcm_{sample_rate}"


# --- secrets ----------------------------------------------------------------------------------

_KEY_LIKE = re.compile(r"\bsk_[A-Za-z0-9]{8,}")


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with the secret, and anything shaped like an ElevenLabs key, blotted out."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return _KEY_LIKE.sub("sk_[redacted]", text)


def auth_headers(api_key: str) -> dict[str, str]:
    """The one place a key goes: the ``xi-api-key`` header (REST and the WebSocket handshake)."""
    if not api_key or any(c in api_key for c in "\r\n"):
        raise AuthenticationError("The ElevenLabs API key is empty or malformed.")
    return {API_KEY_HEADER: api_key}


# --- HTTP requests ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """Per-request voice settings (§1.3). ``None`` fields are left to the voice's own settings."""

    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None
    speed: float | None = None

    SPEED_RANGE = (0.7, 1.2)

    def __post_init__(self) -> None:
        for name in ("stability", "similarity_boost", "style"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"voice setting {name} must be between 0 and 1, not {value}")
        low, high = self.SPEED_RANGE
        if self.speed is not None and not low <= self.speed <= high:
            raise ValueError(f"voice setting speed must be between {low} and {high}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, float | bool]) -> VoiceSettings:
        known = {"stability", "similarity_boost", "style", "use_speaker_boost", "speed"}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown voice settings: {', '.join(sorted(unknown))}")
        return cls(**values)  # type: ignore[arg-type]  # checked names; ranges in __post_init__

    @property
    def rate_range(self) -> tuple[float, float]:
        """The speaking rates the service reaches for a voice with these settings."""
        low, high = self.SPEED_RANGE
        base = self.speed or 1.0
        return low / base, high / base

    def at_rate(self, rate: float) -> VoiceSettings:
        """These settings for a speaking rate, clamped to what the service accepts (0.7–1.2)."""
        if rate == 1.0:
            return self
        low, high = self.SPEED_RANGE
        speed = min(high, max(low, (self.speed or 1.0) * rate))
        return VoiceSettings(
            self.stability, self.similarity_boost, self.style, self.use_speaker_boost, speed
        )

    def to_json(self) -> dict[str, float | bool] | None:
        """The JSON object, or ``None`` when nothing is set (the voice's stored settings apply)."""
        values = {
            "stability": self.stability,
            "similarity_boost": self.similarity_boost,
            "style": self.style,
            "use_speaker_boost": self.use_speaker_boost,
            "speed": self.speed,
        }
        present = {k: v for k, v in values.items() if v is not None}
        return present or None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP request to send, minus the key (the shell adds :func:`auth_headers`)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, Any] | None = None
    accept: str = "application/json"

    @property
    def target(self) -> str:
        """Path and query, as in the request line."""
        return f"{self.path}?{urlencode(self.params)}" if self.params else self.path


def _voice_path(voice_id: str) -> str:
    if not voice_id.strip():
        raise VoiceNotFoundError("No ElevenLabs voice was chosen.")
    return quote(voice_id, safe="")


def _check_text(text: str, model_id: str) -> None:
    if not text.strip():
        raise RequestRejectedError("There is no text to send to ElevenLabs.")
    limit = model_character_limit(model_id)
    if len(text) > limit:
        raise RequestRejectedError(
            f"This text has {len(text)} characters; the ElevenLabs model {model_id} accepts at "
            f"most {limit} in one request."
        )


def build_speech_request(
    voice_id: str,
    text: str,
    *,
    model_id: str = DEFAULT_MODEL_ID,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    voice_settings: VoiceSettings | None = None,
    previous_text: str = "",
    next_text: str = "",
    previous_request_ids: Sequence[str] = (),
    next_request_ids: Sequence[str] = (),
    language_code: str | None = None,
    enable_logging: bool = True,
    with_timestamps: bool = False,
    seed: int | None = None,
) -> HttpRequest:
    """``POST /v1/text-to-speech/{voice_id}/stream[/with-timestamps]`` for one piece of text.

    Applies the model rules of §1.3 and §1.6: ``language_code`` only where the model takes it,
    no context or stitching for ``eleven_v3``, no request ids when logging is off (zero
    retention disables stitching), at most three ids each way, and ids win over text context.
    """
    _check_text(text, model_id)
    path = f"/v1/text-to-speech/{_voice_path(voice_id)}/stream"
    if with_timestamps:
        path += "/with-timestamps"
    params = (
        ("output_format", output_format(sample_rate)),
        ("enable_logging", "true" if enable_logging else "false"),
    )
    body: dict[str, Any] = {"text": text, "model_id": model_id}
    settings = voice_settings.to_json() if voice_settings is not None else None
    if settings is not None:
        body["voice_settings"] = settings
    if language_code and supports_language_code(model_id):
        body["language_code"] = language_code
    if seed is not None:
        if not 0 <= seed <= 4_294_967_295:
            raise ValueError("seed must be between 0 and 4294967295")
        body["seed"] = seed
    if supports_stitching(model_id):
        previous_ids = list(previous_request_ids)[-MAX_STITCHING_IDS:] if enable_logging else []
        next_ids = list(next_request_ids)[:MAX_STITCHING_IDS] if enable_logging else []
        if previous_ids:
            body["previous_request_ids"] = previous_ids
        elif previous_text.strip():
            body["previous_text"] = previous_text[-MAX_CONTEXT_TEXT:]
        if next_ids:
            body["next_request_ids"] = next_ids
        elif next_text.strip():
            body["next_text"] = next_text[:MAX_CONTEXT_TEXT]
    accept = "application/x-ndjson" if with_timestamps else "audio/*"
    return HttpRequest("POST", path, params, body, accept)


def build_get(path: str, **params: str) -> HttpRequest:
    """A GET of one of the account endpoints (``/v1/user``, ``/v1/voices``…)."""
    return HttpRequest("GET", path, tuple(params.items()))


USER: Final = build_get("/v1/user")
SUBSCRIPTION: Final = build_get("/v1/user/subscription")
VOICES: Final = build_get("/v1/voices")
MODELS: Final = build_get("/v1/models")


# --- WebSocket URLs and messages --------------------------------------------------------------


def websocket_base(base_url: str) -> str:
    """The WebSocket origin for an HTTP base URL: ``http`` → ``ws``, ``https`` → ``wss``."""
    parts = urlsplit(base_url)
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    scheme = schemes.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) base URL: {base_url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def websocket_url(
    base_url: str,
    voice_id: str,
    *,
    model_id: str = DEFAULT_MODEL_ID,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    multi_context: bool = True,
    inactivity_timeout: int = DEFAULT_INACTIVITY_TIMEOUT,
    auto_mode: bool = True,
    sync_alignment: bool = True,
    enable_logging: bool = True,
    language_code: str | None = None,
) -> str:
    """The URL of ``multi-stream-input`` (or ``stream-input``) for a voice, model and format.

    ``auto_mode`` suits whole segments sent with a flush (no server-side chunk schedule);
    ``sync_alignment`` puts timing on every audio frame.
    """
    if not supports_websocket(model_id):
        raise RequestRejectedError(f"The ElevenLabs model {model_id} cannot stream over a socket.")
    if not 1 <= inactivity_timeout <= MAX_INACTIVITY_TIMEOUT:
        raise ValueError(f"inactivity_timeout must be 1..{MAX_INACTIVITY_TIMEOUT} seconds")
    endpoint = "multi-stream-input" if multi_context else "stream-input"
    params = [
        ("model_id", model_id),
        ("output_format", output_format(sample_rate, websocket=True)),
        ("inactivity_timeout", str(inactivity_timeout)),
        ("auto_mode", _bool(auto_mode)),
        ("sync_alignment", _bool(sync_alignment)),
        ("enable_logging", _bool(enable_logging)),
    ]
    if language_code and supports_language_code(model_id):
        params.append(("language_code", language_code))
    path = f"/v1/text-to-speech/{_voice_path(voice_id)}/{endpoint}"
    return f"{websocket_base(base_url)}{path}?{urlencode(params)}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _dump(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def socket_text(text: str) -> str:
    """Text as the socket wants it: ending with exactly one space (§2.1).

    An empty string means end-of-stream (or keep-alive on the multi-context socket), so real
    text must never be empty.
    """
    stripped = text.rstrip()
    if not stripped:
        raise ValueError("socket text must not be blank (blank text is end-of-stream)")
    return stripped + " "


def _initial(
    voice_settings: VoiceSettings | None, generation_config: Mapping[str, Any] | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"text": " "}
    settings = voice_settings.to_json() if voice_settings is not None else None
    if settings is not None:
        message["voice_settings"] = settings
    if generation_config:
        message["generation_config"] = dict(generation_config)
    return message


def init_context(
    context_id: str,
    voice_settings: VoiceSettings | None = None,
    generation_config: Mapping[str, Any] | None = None,
) -> str:
    """Open a context: text ``" "`` plus the only settings it will ever get (§2.2)."""
    return _dump({**_initial(voice_settings, generation_config), "context_id": context_id})


def context_text(context_id: str, text: str, *, flush: bool = False) -> str:
    """Text for an open context; ``flush`` generates everything buffered now."""
    message: dict[str, Any] = {"text": socket_text(text), "context_id": context_id}
    if flush:
        message["flush"] = True
    return _dump(message)


def flush_context(context_id: str) -> str:
    return _dump({"context_id": context_id, "flush": True})


def close_context(context_id: str) -> str:
    """No more audio for this context; the server answers with its ``isFinal``."""
    return _dump({"context_id": context_id, "close_context": True})


def keep_alive(context_id: str | None = None) -> str:
    """Reset the inactivity clock of a context, or of the socket (Pipecat's context-less form)."""
    if context_id is None:
        return _dump({"text": ""})
    return _dump({"text": "", "context_id": context_id})


def close_socket() -> str:
    """Finish every context, then the server closes the socket with 1000."""
    return _dump({"close_socket": True})


def stream_input_init(
    voice_settings: VoiceSettings | None = None,
    generation_config: Mapping[str, Any] | None = None,
) -> str:
    """First message of the single-context ``stream-input`` socket."""
    return _dump(_initial(voice_settings, generation_config))


def stream_input_text(text: str, *, flush: bool = False) -> str:
    message: dict[str, Any] = {"text": socket_text(text), "try_trigger_generation": False}
    if flush:
        message["flush"] = True
    return _dump(message)


def stream_input_keep_alive() -> str:
    """On ``stream-input`` a single space keeps the socket open; an empty text would end it."""
    return _dump({"text": " "})


def stream_input_end() -> str:
    """End of stream: the server speaks what is left, sends ``isFinal`` and closes."""
    return _dump({"text": ""})
