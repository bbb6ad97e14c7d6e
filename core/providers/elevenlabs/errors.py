"""The service's failures, turned into :mod:`voxtray.core.errors` (sans-I/O).

Three body shapes (§3.1): legacy ``{"detail":{"status","message"}}``, the 2026
``{"detail":{"type","code","message","status","request_id"}}`` and the 422 list
``{"detail":[{"loc","msg","type"}]}``; socket close codes and error frames (§2.1, §2.2); and the
response headers worth keeping (§1.4), among them when to retry.

The code in the body wins over the HTTP status (``quota_exceeded`` comes with a 401). The
sentence of an error is for the user; request and trace ids go into the exception's notes.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ...errors import (
    AuthenticationError,
    ConnectionLostError,
    ProtocolError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestRejectedError,
    ServiceError,
    VoiceNotFoundError,
)
from .api import redact
from .frames import SocketError

# --- errors -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """What an error body says, whichever of the three shapes it came in (§3.1)."""

    http_status: int
    code: str | None = None
    """The 2026 ``code``, else the legacy ``status``."""
    legacy_status: str | None = None
    type: str | None = None
    message: str | None = None
    request_id: str | None = None
    param: str | None = None
    invalid_fields: tuple[str, ...] = field(default=())


def parse_error_body(http_status: int, body: bytes | str) -> ErrorDetail:
    """Read the legacy ``{detail:{status,message}}``, the 2026 ``{detail:{type,code,…}}`` and
    the 422 ``{detail:[{loc,msg,type}]}`` shapes; anything else keeps only the status."""
    try:
        obj = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        obj = None
    detail = obj.get("detail") if isinstance(obj, dict) else None
    if isinstance(detail, dict):
        status = _str(detail.get("status"))
        return ErrorDetail(
            http_status,
            code=_str(detail.get("code")) or status,
            legacy_status=status,
            type=_str(detail.get("type")),
            message=_str(detail.get("message")),
            request_id=_str(detail.get("request_id")),
            param=_str(detail.get("param")),
        )
    if isinstance(detail, list):
        fields, messages = [], []
        for item in detail:
            if not isinstance(item, dict):
                continue
            loc = item.get("loc")
            if isinstance(loc, list):
                fields.append(".".join(str(p) for p in loc if p != "body"))
            if isinstance(item.get("msg"), str):
                messages.append(item["msg"])
        return ErrorDetail(
            http_status,
            code="validation_error",
            type="validation_error",
            message="; ".join(messages) or None,
            invalid_fields=tuple(fields),
        )
    if isinstance(detail, str):
        return ErrorDetail(http_status, message=detail)
    return ErrorDetail(http_status)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


_CONCURRENCY_CODES = frozenset({"too_many_concurrent_requests", "concurrent_limit_exceeded"})
_AUTH_CODES = frozenset(
    {"invalid_api_key", "unauthorized", "needs_authorization", "missing_api_key", "api_key_invalid"}
)
_QUOTA_CODES = frozenset({"quota_exceeded", "insufficient_credits", "credits_exceeded"})


def _said(base: str, server_message: str | None, secret: str | None) -> str:
    """``base``, followed by what the service said when that adds something."""
    if not server_message:
        return base
    said = redact(" ".join(server_message.split()), secret)
    if len(said) > 300:
        said = said[:297] + "…"
    return f"{base} ElevenLabs said: “{said}”"


def error_for_code(
    code: str | None,
    message: str | None,
    *,
    http_status: int | None = None,
    error_type: str | None = None,
    retry_after: float | None = None,
    secret: str | None = None,
) -> ProviderError:
    """The error-tree member for a service error code, an HTTP status or both.

    Used for REST bodies and for socket error frames alike; the code wins over the status,
    because the service sends, for example, ``quota_exceeded`` with a 401.
    """
    code = (code or "").lower()
    text = (message or "").lower()
    if code in _QUOTA_CODES:
        return QuotaExceededError(_said("Your ElevenLabs quota is used up.", message, secret))
    if code == "voice_not_found":
        return VoiceNotFoundError(_said("ElevenLabs does not know this voice.", message, secret))
    if code in _CONCURRENCY_CODES or (http_status == 429 and "concurrent" in text):
        return RateLimitedError(
            "ElevenLabs is already running as many requests at once as the plan allows.",
            kind="concurrency",
            retry_after=retry_after,
        )
    if code == "system_busy":
        return RateLimitedError(
            "ElevenLabs is busy right now; the request will be tried again shortly.",
            kind="system_busy",
            retry_after=retry_after,
        )
    if code == "rate_limit_exceeded" or http_status == 429:
        return RateLimitedError(
            "Too many ElevenLabs requests in a short time; slowing down.",
            kind="rate_limit",
            retry_after=retry_after,
        )
    if code in _AUTH_CODES or http_status == 401 or error_type == "authentication_error":
        return AuthenticationError(
            _said("ElevenLabs refused the API key. Check it in the settings.", message, secret)
        )
    if code == "max_character_limit_exceeded":
        return RequestRejectedError(
            _said("The text is too long for one ElevenLabs request.", message, secret)
        )
    if http_status == 403 or error_type == "authorization_error":
        return RequestRejectedError(
            _said("The ElevenLabs key or plan does not allow this.", message, secret)
        )
    if http_status is not None and http_status >= 500:
        return ServiceError(_said("ElevenLabs failed to answer the request.", message, secret))
    if http_status in (408, 409):
        return ServiceError(_said("ElevenLabs could not finish the request.", message, secret))
    if http_status is not None and 400 <= http_status < 500:
        return RequestRejectedError(
            _said("ElevenLabs refused the request as it was sent.", message, secret)
        )
    return ServiceError(_said("ElevenLabs reported an error.", message, secret))


def error_from_response(
    http_status: int,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    secret: str | None = None,
    now: float | None = None,
) -> ProviderError:
    """The error for a non-2xx response. Request and trace ids go into the exception's notes
    (for a developer or support), not into the sentence the user sees."""
    detail = parse_error_body(http_status, body)
    message = detail.message
    if detail.invalid_fields:
        message = f"{message or 'invalid'} ({', '.join(detail.invalid_fields)})"
    error = error_for_code(
        detail.code,
        message,
        http_status=http_status,
        error_type=detail.type,
        retry_after=retry_after_seconds(headers, now=now),
        secret=secret,
    )
    info = parse_response_headers(headers)
    error.add_note(f"HTTP {http_status}; code {detail.code or '-'}; type {detail.type or '-'}")
    request_id = detail.request_id or info.request_id
    if request_id:
        error.add_note(f"request-id: {redact(request_id, secret)}")
    if info.trace_id:
        error.add_note(f"x-trace-id: {redact(info.trace_id, secret)}")
    return error


_INACTIVITY = "have not received a new text input"


def error_from_close(
    code: int | None,
    reason: str,
    last_error: SocketError | None = None,
    *,
    secret: str | None = None,
) -> ProviderError:
    """The error for a socket that closed while we still expected audio (§2.1 close table).

    An error frame sent before the close says more than the close code, so it wins.
    """
    if last_error is not None:
        return error_from_frame(last_error, secret=secret)
    said = redact(reason, secret) if reason else None
    if code == 1008 and _INACTIVITY in reason.lower():
        return ConnectionLostError("The ElevenLabs stream timed out waiting for text.")
    if code == 1008 and "something went wrong" in reason.lower():
        return ServiceError(_said("ElevenLabs failed during the stream.", said, None))
    if code == 1008:
        return ProtocolError(_said("ElevenLabs closed the stream over a policy.", said, None))
    if code == 1009:
        # Reported for a voice the model cannot use on this socket (elevenlabs-python#586).
        return ProtocolError(
            _said("ElevenLabs closed the stream (voice and model may not match).", said, None)
        )
    if code in (1011, 1012, 1013, 1014):
        return ServiceError(_said("ElevenLabs failed during the stream.", said, None))
    return ConnectionLostError(
        f"The connection to ElevenLabs closed before the speech was complete (code {code})."
        if code is not None
        else "The connection to ElevenLabs dropped before the speech was complete."
    )


def error_from_frame(frame: SocketError, *, secret: str | None = None) -> ProviderError:
    """The error for a socket error frame (``invalid_input_message``, ``max_active_…``…)."""
    kind = (frame.error or "").lower()
    if kind in ("invalid_input_message", "max_active_conversations"):
        return ProtocolError(
            _said("ElevenLabs did not accept a stream message.", frame.message, secret)
        )
    return error_for_code(frame.error, frame.message, secret=secret)


def error_from_handshake(
    http_status: int, headers: Mapping[str, str], body: bytes, *, secret: str | None = None
) -> ProviderError:
    """A socket handshake answered with an HTTP error: 401/403 is the key (never retried)."""
    error = error_from_response(http_status, headers, body, secret=secret)
    if http_status in (401, 403) and not isinstance(error, QuotaExceededError):
        auth = AuthenticationError("ElevenLabs refused the API key. Check it in the settings.")
        auth.__notes__ = list(getattr(error, "__notes__", []))
        return auth
    return error


# --- response headers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """The headers of a text-to-speech response worth keeping (§1.4)."""

    request_id: str | None = None
    character_cost: int | None = None
    current_concurrent_requests: int | None = None
    maximum_concurrent_requests: int | None = None
    trace_id: str | None = None
    region: str | None = None
    content_type: str | None = None


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {k.lower(): v for k, v in pairs}


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def parse_response_headers(headers: Mapping[str, str]) -> ResponseInfo:
    h = _lower(headers)
    return ResponseInfo(
        request_id=h.get("request-id"),
        character_cost=_int(h.get("character-cost")),
        current_concurrent_requests=_int(h.get("current-concurrent-requests")),
        maximum_concurrent_requests=_int(h.get("maximum-concurrent-requests")),
        trace_id=h.get("x-trace-id"),
        region=h.get("x-region"),
        content_type=h.get("content-type"),
    )


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """When to retry: ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date), else
    ``x-ratelimit-reset`` (a Unix time) — the order the SDK uses (§6.1). ``now`` is Unix time."""
    h = _lower(headers)
    current = time.time() if now is None else now
    if (ms := h.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    if (value := h.get("retry-after")) is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - current)
    if (reset := h.get("x-ratelimit-reset")) is not None:
        try:
            return max(0.0, float(reset) - current)
        except ValueError:
            pass
    return None
