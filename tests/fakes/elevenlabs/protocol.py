"""Error bodies, WebSocket error frames and the exact message texts the fake sends.

Three REST error shapes (elevenlabs-api.md §3.1): the legacy ``{"detail":{"status","message"}}``;
the 2026 ``{"detail":{"type","code","message","status","request_id"}}`` (switchable per test); and
the 422 validation list ``{"detail":[{"loc","msg","type"}]}``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

ErrorFormat = Literal["legacy", "2026"]

# -- message texts ------------------------------------------------------------------------------

CONCURRENCY_MESSAGE = (
    "Too many concurrent requests. Your current subscription is associated with a maximum of"
    " {limit} concurrent requests (running in parallel). This is done such that a single user does"
    " not overwhelm our systems and affect other users negatively. Please upgrade your subscription"
    " or contact sales if you want to increase this limit."
)
SYSTEM_BUSY_MESSAGE = (
    "We are sorry, our systems are experiencing heavy traffic right now, please try again later."
)
RATE_LIMIT_MESSAGE = "Too many requests in a short period of time. Please slow down and retry."
INVALID_KEY_MESSAGE = "Invalid API key"
NO_KEY_MESSAGE = "Neither authorization header nor xi-api-key received, please provide one."
QUOTA_MESSAGE = (
    "This request exceeds your quota of {limit}. You have {remaining} credits remaining,"
    " while {required} credits are required for this request."
)
CHAR_LIMIT_MESSAGE = (
    "This request's text has {count} characters and exceeds the character limit of {limit}"
    " characters."
)
VOICE_NOT_FOUND_MESSAGE = "A voice with the voice_id {voice_id} was not found."
MODEL_NOT_FOUND_MESSAGE = "A model with model ID {model_id} does not exist."
OUTPUT_FORMAT_MESSAGE = (
    "The output format {output_format} is not served by this test server; use pcm_8000, pcm_16000,"
    " pcm_22050, pcm_24000, pcm_32000, pcm_44100 or pcm_48000."
)
SERVER_ERROR_MESSAGE = "We are sorry, something went wrong. You are not charged for this request."

WS_PARSE_ERROR = (
    "Could not parse input message, make sure it is a json and follows the schema outlined in"
    " protocol."
)
WS_MAX_CONTEXTS = (
    "Maximum simultaneous contexts per WebSocket connection exceeded (5). Please close an existing"
    " context before opening a new one."
)
WS_TIMEOUT = (
    "Have not received a new text input within the timeout of {seconds} seconds. Streaming input"
    " terminated. Please make sure to either feed the input in the timely manner, or to send the"
    ' end of input text (empty string "") when done.'
)
WS_VOICE_SETTINGS_LATE = (
    "voice_settings can only be sent in the first message of a context; this context was opened"
    " without them."
)
WS_TEXT_AFTER_EOS = "Text was received after the end of input (an empty string) had been sent."
WS_FIRST_MESSAGE = 'The first message must be a single space (" ") to initialise the stream.'
WS_MODEL_UNSUPPORTED = "The model {model_id} is not available on WebSocket input streaming."

# -- 2026 type/code per legacy status ---------------------------------------------------------

_MODERN: dict[str, tuple[str, str]] = {
    "invalid_api_key": ("authentication_error", "unauthorized"),  # §3.1: seen live, UNCONFIRMED
    "needs_authorization": ("authentication_error", "unauthorized"),
    "quota_exceeded": ("authorization_error", "quota_exceeded"),
    "max_character_limit_exceeded": ("validation_error", "max_character_limit_exceeded"),
    "voice_not_found": ("not_found", "voice_not_found"),
    "model_not_found": ("not_found", "model_not_found"),
    "invalid_output_format": ("validation_error", "invalid_parameters"),
    "too_many_concurrent_requests": ("rate_limit_error", "concurrent_limit_exceeded"),
    "system_busy": ("rate_limit_error", "system_busy"),
    "rate_limit_exceeded": ("rate_limit_error", "rate_limit_exceeded"),
    "internal_server_error": ("internal_error", "internal_server_error"),
}


def new_request_id() -> str:
    return secrets.token_hex(10)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def fingerprint(key: str | None) -> str:
    """How the fake names a key in logs and records: never the key itself."""
    if not key:
        return "<none>"
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{key[:4]}…{digest}"


def error_body(
    status: str, message: str, *, error_format: ErrorFormat, request_id: str
) -> dict[str, Any]:
    """A REST error body for a legacy ``status``, in the selected shape."""
    if error_format == "legacy":
        return {"detail": {"status": status, "message": message}}
    error_type, code = _MODERN.get(status, ("invalid_request", status))
    return {
        "detail": {
            "type": error_type,
            "code": code,
            "message": message,
            "status": status,
            "request_id": request_id,
        }
    }


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    loc: tuple[str | int, ...]
    msg: str
    type: str
    input: Any = None


def validation_body(issues: list[ValidationIssue]) -> dict[str, Any]:
    """The FastAPI/pydantic 422 body: ``detail`` is a list."""
    return {
        "detail": [
            {"type": i.type, "loc": list(i.loc), "msg": i.msg, "input": i.input} for i in issues
        ]
    }


def ws_error(message: str, error: str, *, code: int = 1008) -> dict[str, Any]:
    return {"message": message, "error": error, "code": code}


def close_reason(text: str) -> str:
    """A close-frame reason fits in 123 bytes: keep whole sentences that fit."""
    if len(text.encode()) <= 123:
        return text
    kept = ""
    for sentence in text.split(". "):
        candidate = f"{kept}{sentence}." if not kept else f"{kept} {sentence}."
        if len(candidate.encode()) > 123:
            break
        kept = candidate
    return kept or text.encode()[:123].decode(errors="ignore")
