"""The sans-I/O ElevenLabs protocol: builders and parsers fed with the doc's bodies and frames."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from voxtray.core.errors import (
    AuthenticationError,
    ConnectionLostError,
    ErrorCategory,
    ProtocolError,
    QuotaExceededError,
    RateLimitedError,
    RequestRejectedError,
    ServiceError,
    VoiceNotFoundError,
)
from voxtray.core.providers.elevenlabs import account, api, errors, frames

KEY = "sk_0123456789abcdef0123456789abcdef0123456789abcdef"


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- models, plans, formats -------------------------------------------------------------------


def test_model_limits_and_rules() -> None:
    assert api.model_character_limit("eleven_flash_v2_5") == 40_000
    assert api.model_character_limit("eleven_multilingual_v2") == 10_000
    assert api.model_character_limit("eleven_v3") == 3_000
    assert api.model_character_limit("something_new") == api.DEFAULT_CHARACTER_LIMIT
    assert not api.supports_websocket("eleven_v3")
    assert api.supports_websocket("eleven_flash_v2_5")
    assert not api.supports_language_code("eleven_multilingual_v2")
    assert api.supports_language_code("eleven_turbo_v2_5")


@pytest.mark.parametrize(
    ("tier", "model", "expected"),
    [
        ("free", "eleven_multilingual_v2", 2),
        ("free", "eleven_flash_v2_5", 4),
        ("starter", "eleven_turbo_v2_5", 6),
        ("creator", "eleven_multilingual_v2", 5),
        ("pro", "eleven_flash_v2_5", 20),
        ("scale", "eleven_multilingual_v2", 15),
        ("business", "eleven_flash_v2", 30),
        ("creator_2024", "eleven_flash_v2_5", 10),
        ("mystery", "eleven_flash_v2_5", 4),
        ("eleven_v3_tier?", "eleven_v3", 2),
    ],
)
def test_plan_concurrency(tier: str, model: str, expected: int) -> None:
    assert api.plan_concurrency(tier, model) == expected


def test_output_format() -> None:
    assert api.output_format(22050) == "pcm_22050"
    assert api.output_format(48000) == "pcm_48000"
    with pytest.raises(ValueError, match="WebSocket"):
        api.output_format(48000, websocket=True)
    with pytest.raises(ValueError, match="11025"):
        api.output_format(11025)


# --- HTTP requests ----------------------------------------------------------------------------


def test_speech_request_defaults() -> None:
    request = api.build_speech_request("voice/1", "Hello there.", sample_rate=24000)
    assert request.method == "POST"
    assert request.path == "/v1/text-to-speech/voice%2F1/stream"
    assert dict(request.params) == {"output_format": "pcm_24000", "enable_logging": "true"}
    assert request.body == {"text": "Hello there.", "model_id": "eleven_flash_v2_5"}
    assert request.accept == "audio/*"
    assert request.target.endswith("?output_format=pcm_24000&enable_logging=true")


def test_speech_request_with_everything() -> None:
    settings = api.VoiceSettings(stability=0.4, similarity_boost=0.8, speed=1.1)
    request = api.build_speech_request(
        "v",
        "Two.",
        model_id="eleven_turbo_v2_5",
        voice_settings=settings,
        previous_text="One.",
        next_text="Three.",
        language_code="de",
        with_timestamps=True,
        seed=7,
        enable_logging=False,
    )
    assert request.path == "/v1/text-to-speech/v/stream/with-timestamps"
    assert ("enable_logging", "false") in request.params
    assert request.body == {
        "text": "Two.",
        "model_id": "eleven_turbo_v2_5",
        "voice_settings": {"stability": 0.4, "similarity_boost": 0.8, "speed": 1.1},
        "language_code": "de",
        "seed": 7,
        "previous_text": "One.",
        "next_text": "Three.",
    }


def test_no_language_code_for_multilingual_v2() -> None:
    request = api.build_speech_request(
        "v", "Hallo.", model_id="eleven_multilingual_v2", language_code="de"
    )
    assert request.body is not None and "language_code" not in request.body


def test_no_context_or_stitching_for_v3() -> None:
    request = api.build_speech_request(
        "v",
        "Two.",
        model_id="eleven_v3",
        previous_text="One.",
        next_text="Three.",
        previous_request_ids=["a"],
    )
    assert request.body == {"text": "Two.", "model_id": "eleven_v3"}


def test_request_ids_win_and_are_capped() -> None:
    request = api.build_speech_request(
        "v",
        "x",
        previous_text="ignored",
        previous_request_ids=["a", "b", "c", "d"],
        next_request_ids=["e", "f", "g", "h"],
    )
    assert request.body is not None
    assert request.body["previous_request_ids"] == ["b", "c", "d"]
    assert request.body["next_request_ids"] == ["e", "f", "g"]
    assert "previous_text" not in request.body


def test_no_request_ids_without_logging() -> None:
    request = api.build_speech_request(
        "v", "x", previous_request_ids=["a"], previous_text="One.", enable_logging=False
    )
    assert request.body is not None
    assert "previous_request_ids" not in request.body
    assert request.body["previous_text"] == "One."


def test_text_checks() -> None:
    with pytest.raises(RequestRejectedError):
        api.build_speech_request("v", "   ")
    with pytest.raises(RequestRejectedError, match="3001 characters"):
        api.build_speech_request("v", "a" * 3001, model_id="eleven_v3")
    with pytest.raises(VoiceNotFoundError):
        api.build_speech_request(" ", "Hello")


def test_voice_settings() -> None:
    assert api.VoiceSettings().to_json() is None
    assert api.VoiceSettings().at_rate(1.5).to_json() == {"speed": 1.2}
    assert api.VoiceSettings(speed=1.0).at_rate(0.5).speed == 0.7
    assert api.VoiceSettings.from_mapping({"stability": 0.3}).stability == 0.3
    with pytest.raises(ValueError, match="stability"):
        api.VoiceSettings(stability=1.5)
    with pytest.raises(ValueError, match="speed"):
        api.VoiceSettings(speed=2.0)
    with pytest.raises(ValueError, match="unknown"):
        api.VoiceSettings.from_mapping({"loudness": 1.0})


def test_account_requests() -> None:
    assert api.SUBSCRIPTION.path == "/v1/user/subscription"
    assert api.VOICES.method == "GET"


# --- WebSocket --------------------------------------------------------------------------------


def test_websocket_urls() -> None:
    url = api.websocket_url("https://api.elevenlabs.io", "abc", sample_rate=16000)
    assert url.startswith("wss://api.elevenlabs.io/v1/text-to-speech/abc/multi-stream-input?")
    assert "model_id=eleven_flash_v2_5" in url
    assert "output_format=pcm_16000" in url
    assert "auto_mode=true" in url and "sync_alignment=true" in url
    single = api.websocket_url("http://127.0.0.1:8000/", "abc", multi_context=False)
    assert single.startswith("ws://127.0.0.1:8000/v1/text-to-speech/abc/stream-input?")
    assert api.websocket_base("https://proxy.example/el/") == "wss://proxy.example/el"
    with pytest.raises(RequestRejectedError):
        api.websocket_url("https://x", "abc", model_id="eleven_v3")
    with pytest.raises(ValueError, match="inactivity_timeout"):
        api.websocket_url("https://x", "abc", inactivity_timeout=181)
    with pytest.raises(ValueError, match="base URL"):
        api.websocket_base("ftp://x")


def test_multi_context_messages() -> None:
    settings = api.VoiceSettings(stability=0.5, speed=1.1)
    init = json.loads(api.init_context("c1", settings, {"chunk_length_schedule": [50]}))
    assert init == {
        "text": " ",
        "voice_settings": {"stability": 0.5, "speed": 1.1},
        "generation_config": {"chunk_length_schedule": [50]},
        "context_id": "c1",
    }
    assert json.loads(api.init_context("c2")) == {"text": " ", "context_id": "c2"}
    assert json.loads(api.context_text("c1", "Hello world  \n", flush=True)) == {
        "text": "Hello world ",
        "context_id": "c1",
        "flush": True,
    }
    assert json.loads(api.context_text("c1", "Hi")) == {"text": "Hi ", "context_id": "c1"}
    assert json.loads(api.flush_context("c1")) == {"context_id": "c1", "flush": True}
    assert json.loads(api.close_context("c1")) == {"context_id": "c1", "close_context": True}
    assert json.loads(api.keep_alive("c1")) == {"text": "", "context_id": "c1"}
    assert json.loads(api.keep_alive()) == {"text": ""}
    assert json.loads(api.close_socket()) == {"close_socket": True}
    with pytest.raises(ValueError, match="end-of-stream"):
        api.context_text("c1", "  ")


def test_stream_input_messages() -> None:
    assert json.loads(api.stream_input_init()) == {"text": " "}
    assert json.loads(api.stream_input_text("Hi", flush=True)) == {
        "text": "Hi ",
        "try_trigger_generation": False,
        "flush": True,
    }
    assert json.loads(api.stream_input_keep_alive()) == {"text": " "}
    assert json.loads(api.stream_input_end()) == {"text": ""}


# --- frames -----------------------------------------------------------------------------------


def test_pcm_assembler_keeps_whole_samples() -> None:
    data = pcm(1, -2, 300)
    samples = frames.PcmAssembler()
    assert samples.feed(data[:3]) == data[:2]
    assert samples.pending == 1
    assert samples.feed(data[3:5]) == data[2:4]
    assert samples.feed(data[5:]) == data[4:]
    assert samples.total_bytes == len(data)


def test_ndjson_lines_across_chunks() -> None:
    line1 = json.dumps(
        {
            "audio_base64": b64(pcm(1, 2)),
            "alignment": {
                "characters": ["H", "i"],
                "character_start_times_seconds": [0.0, 0.08],
                "character_end_times_seconds": [0.08, 0.2],
            },
            "normalized_alignment": None,
        }
    ).encode()
    line2 = json.dumps({"audio_base64": b64(pcm(3)), "alignment": None}).encode()
    body = line1 + b"\n\n" + line2
    decoder = frames.NdjsonDecoder()
    out = decoder.feed(body[:10]) + decoder.feed(body[10:]) + decoder.end()
    assert [item.pcm for item in out] == [pcm(1, 2), pcm(3)]
    first = out[0].alignment
    assert first is not None and first.text == "Hi"
    assert first.end_seconds == (0.08, 0.2)
    assert out[0].normalized_alignment is None and out[1].alignment is None


def test_ndjson_garbage_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        frames.NdjsonDecoder().feed(b"not json\n")
    with pytest.raises(ProtocolError):
        frames.parse_timestamped_line(b'{"audio_base64": "***"}')


def test_malformed_alignment_is_dropped_not_fatal() -> None:
    item = frames.parse_timestamped_line(
        json.dumps({"audio_base64": b64(pcm(1)), "alignment": {"characters": ["a"]}})
    )
    assert item.pcm == pcm(1) and item.alignment is None


def test_socket_audio_frame() -> None:
    raw = json.dumps(
        {
            "audio": b64(pcm(5, 6)),
            "isFinal": None,
            "normalizedAlignment": {
                "chars": ["h"],
                "charStartTimesMs": [0],
                "charsDurationsMs": [50],
            },
            "alignment": {
                "chars": ["H", "i"],
                "charStartTimesMs": [0, 70],
                "charDurationsMs": [70, 30],
            },
            "contextId": "c1",
        }
    )
    frame = frames.parse_server_frame(raw)
    assert frame.context_id == "c1" and frame.pcm == pcm(5, 6) and not frame.is_final
    assert frame.alignment is not None
    assert frame.alignment.start_seconds == (0.0, 0.07)
    assert frame.alignment.end_seconds == (0.07, 0.1)
    assert frame.normalized_alignment is not None
    assert frame.normalized_alignment.end_seconds == (0.05,)
    assert frame.alignment.shifted(1.0).start_seconds == (1.0, 1.07)


def test_socket_final_frames_in_both_casings() -> None:
    legacy = frames.parse_server_frame('{"isFinal": true, "contextId": "c1"}')
    modern = frames.parse_server_frame('{"is_final": true, "context_id": "c2", "audio": null}')
    assert (legacy.context_id, legacy.is_final, legacy.pcm) == ("c1", True, b"")
    assert (modern.context_id, modern.is_final) == ("c2", True)
    silent = frames.parse_server_frame(
        '{"audio":null,"isFinal":true,"normalizedAlignment":null,"alignment":null,"contextId":"c1"}'
    )
    assert silent.is_final and silent.pcm == b"" and silent.error is None


def test_socket_error_and_flush_done_frames() -> None:
    frame = frames.parse_server_frame(
        '{"message":"Maximum simultaneous contexts per WebSocket connection exceeded (5). Please'
        ' close an existing context before opening a new one.","error":"max_active_conversations",'
        '"code":1008}'
    )
    assert frame.error == frames.SocketError(frame.error.message, "max_active_conversations", 1008)  # type: ignore[union-attr]
    assert frames.parse_server_frame('{"type":"flush_done","contextId":"c1"}').flush_done
    with pytest.raises(ProtocolError):
        frames.parse_server_frame("{oops")
    with pytest.raises(ProtocolError):
        frames.parse_server_frame("[1]")


# --- errors -----------------------------------------------------------------------------------

LEGACY_401 = '{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}'
LEGACY_QUOTA = (
    '{"detail":{"status":"quota_exceeded","message":"You have 0 credits remaining, while 1'
    ' credits are required for this request."}}'
)
MODERN_401 = (
    '{"detail":{"type":"authentication_error","code":"unauthorized","message":"Invalid API key",'
    '"status":"invalid_api_key","request_id":"3c80abc"}}'
)
CONCURRENCY = (
    '{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests.'
    " Your current subscription is associated with a maximum of 2 concurrent requests (running in"
    ' parallel)."}}'
)
MODERN_CONCURRENCY = (
    '{"detail":{"type":"rate_limit_error","code":"concurrent_limit_exceeded","message":"Too many'
    ' concurrent requests.","status":"too_many_concurrent_requests","request_id":"r1"}}'
)
VALIDATION = (
    '{"detail":[{"loc":["body","text"],"msg":"Field required","type":"missing"},'
    '{"loc":["body","voice_settings","stability"],"msg":"Input should be less than or equal to 1",'
    '"type":"less_than_equal"}]}'
)


def test_three_error_shapes_parse() -> None:
    legacy = errors.parse_error_body(401, LEGACY_401)
    assert (legacy.code, legacy.legacy_status, legacy.message) == (
        "invalid_api_key",
        "invalid_api_key",
        "Invalid API key",
    )
    modern = errors.parse_error_body(401, MODERN_401)
    assert (modern.code, modern.legacy_status, modern.type, modern.request_id) == (
        "unauthorized",
        "invalid_api_key",
        "authentication_error",
        "3c80abc",
    )
    validation = errors.parse_error_body(422, VALIDATION)
    assert validation.invalid_fields == ("text", "voice_settings.stability")
    assert validation.message is not None and "Field required" in validation.message
    assert errors.parse_error_body(502, b"<html>bad gateway</html>").code is None


@pytest.mark.parametrize(
    ("status", "body", "kind", "category"),
    [
        (401, LEGACY_401, AuthenticationError, ErrorCategory.AUTHENTICATION),
        (401, MODERN_401, AuthenticationError, ErrorCategory.AUTHENTICATION),
        (401, LEGACY_QUOTA, QuotaExceededError, ErrorCategory.QUOTA),
        (
            401,
            '{"detail":{"type":"authorization_error","code":"quota_exceeded","message":"x"}}',
            QuotaExceededError,
            ErrorCategory.QUOTA,
        ),
        (429, CONCURRENCY, RateLimitedError, ErrorCategory.RATE_LIMIT),
        (500, '{"detail":{"status":"internal","message":"oops"}}', ServiceError, None),
        (503, "", ServiceError, ErrorCategory.TRANSIENT),
        (
            400,
            '{"detail":{"status":"max_character_limit_exceeded","message":"This request\'s text'
            ' has 627 characters and exceeds the character limit of 500 characters."}}',
            RequestRejectedError,
            ErrorCategory.CONFIGURATION,
        ),
        (422, VALIDATION, RequestRejectedError, ErrorCategory.CONFIGURATION),
        (
            400,
            '{"detail":{"status":"voice_not_found","message":"A voice with the voice_id x was'
            ' not found."}}',
            VoiceNotFoundError,
            ErrorCategory.CONFIGURATION,
        ),
        (
            404,
            '{"detail":{"type":"not_found","code":"voice_not_found","message":"not found"}}',
            VoiceNotFoundError,
            None,
        ),
        (
            403,
            '{"detail":{"status":"only_for_creator+","message":"Professional voices need'
            ' Creator."}}',
            RequestRejectedError,
            None,
        ),
    ],
)
def test_error_mapping(
    status: int, body: str, kind: type[Exception], category: ErrorCategory | None
) -> None:
    error = errors.error_from_response(status, {}, body)
    assert type(error) is kind
    if category is not None:
        assert error.category is category
    assert error.message and not error.message.startswith("{")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (CONCURRENCY, "concurrency"),
        (MODERN_CONCURRENCY, "concurrency"),
        ('{"detail":{"status":"system_busy","message":"busy"}}', "system_busy"),
        (
            '{"detail":{"code":"system_busy","type":"rate_limit_error","message":"b"}}',
            "system_busy",
        ),
        ('{"detail":{"code":"rate_limit_exceeded","type":"rate_limit_error"}}', "rate_limit"),
        ("", "rate_limit"),
    ],
)
def test_429_kinds(body: str, kind: str) -> None:
    error = errors.error_from_response(429, {}, body)
    assert isinstance(error, RateLimitedError)
    assert error.kind == kind and error.retry_after is None
    assert not error.is_permanent


def test_retry_after_headers() -> None:
    assert errors.retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert errors.retry_after_seconds({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert errors.retry_after_seconds({"x-ratelimit-reset": "1010"}, now=1000.0) == 10.0
    http_date = "Thu, 01 Jan 1970 00:16:50 GMT"  # 1010 s after the epoch
    assert errors.retry_after_seconds({"Retry-After": http_date}, now=1000.0) == 10.0
    assert errors.retry_after_seconds({"Retry-After": "soon"}) is None
    assert errors.retry_after_seconds({}) is None
    error = errors.error_from_response(429, {"Retry-After": "2"}, CONCURRENCY)
    assert isinstance(error, RateLimitedError) and error.retry_after == 2.0


def test_ids_go_to_notes_not_to_the_message() -> None:
    error = errors.error_from_response(401, {"x-trace-id": "trace-9"}, MODERN_401)
    assert "3c80abc" not in error.message and "trace-9" not in error.message
    notes = "\n".join(error.__notes__)
    assert "request-id: 3c80abc" in notes and "x-trace-id: trace-9" in notes


def test_the_key_never_reaches_a_message() -> None:
    echo = json.dumps({"detail": {"status": "invalid_api_key", "message": f"Key {KEY} is bad"}})
    for status, body in [(401, echo), (400, echo.replace("invalid_api_key", "x")), (500, echo)]:
        error = errors.error_from_response(status, {"x-trace-id": KEY}, body, secret=KEY)
        assert KEY not in str(error) and KEY not in "".join(error.__notes__)
    other_key = "sk_" + "f" * 48
    error = errors.error_from_response(401, {}, echo.replace(KEY, other_key))
    assert other_key not in str(error)
    frame = frames.SocketError(f"bad key {KEY}", "invalid_api_key", 1008)
    assert KEY not in str(errors.error_from_frame(frame, secret=KEY))
    assert KEY not in str(errors.error_from_close(1008, f"key {KEY}", secret=KEY))
    assert api.redact(f"a {KEY} b", KEY) == "a [redacted] b"
    with pytest.raises(AuthenticationError) as caught:
        api.auth_headers("bad\nkey")
    assert "bad" not in str(caught.value)


def test_handshake_errors() -> None:
    assert isinstance(errors.error_from_handshake(401, {}, b""), AuthenticationError)
    assert isinstance(errors.error_from_handshake(403, {}, b""), AuthenticationError)
    assert isinstance(
        errors.error_from_handshake(401, {}, LEGACY_QUOTA.encode()), QuotaExceededError
    )
    assert isinstance(errors.error_from_handshake(429, {}, CONCURRENCY.encode()), RateLimitedError)


@pytest.mark.parametrize(
    ("code", "reason", "kind"),
    [
        (
            1008,
            "Have not received a new text input within the timeout of 20 seconds. Streaming input"
            " terminated.",
            ConnectionLostError,
        ),
        (
            1008,
            "We are sorry, something went wrong. You are not charged for this request.",
            ServiceError,
        ),
        (1008, "policy", ProtocolError),
        (1009, "message too big", ProtocolError),
        (1011, "", ServiceError),
        (1006, "", ConnectionLostError),
        (None, "", ConnectionLostError),
    ],
)
def test_close_codes(code: int | None, reason: str, kind: type[Exception]) -> None:
    assert type(errors.error_from_close(code, reason)) is kind


def test_error_frame_wins_over_close_code() -> None:
    quota = frames.SocketError("You have 0 credits", "quota_exceeded", 1008)
    assert isinstance(errors.error_from_close(1008, "policy", quota), QuotaExceededError)
    invalid = frames.SocketError("Could not parse input message", "invalid_input_message", 1008)
    assert isinstance(errors.error_from_frame(invalid), ProtocolError)
    auth = frames.SocketError("Invalid API key", "invalid_api_key", 1008)
    assert isinstance(errors.error_from_frame(auth), AuthenticationError)


def test_response_headers() -> None:
    info = errors.parse_response_headers(
        {
            "Request-Id": "req-1",
            "character-cost": "42",
            "current-concurrent-requests": "1",
            "maximum-concurrent-requests": "4",
            "x-trace-id": "t",
            "x-region": "europe-west4",
            "content-type": "audio/pcm",
        }
    )
    assert info == errors.ResponseInfo("req-1", 42, 1, 4, "t", "europe-west4", "audio/pcm")
    assert errors.parse_response_headers({"character-cost": "n/a"}).character_cost is None


# --- account ----------------------------------------------------------------------------------

SUBSCRIPTION = {
    "tier": "creator",
    "character_count": 1200,
    "character_limit": 100000,
    "next_character_count_reset_unix": 1767225600,
    "status": "active",
    "can_extend_character_limit": True,
    "voice_slots_used": 3,
    "voice_limit": 30,
    "currency": "usd",
    "billing_period": "monthly_period",
    "character_refresh_period": "monthly_period",
    "next_invoice": {"amount_due_cents": 2200, "next_payment_attempt_unix": 1767225600},
}


def test_subscription_and_user() -> None:
    sub = account.parse_subscription(SUBSCRIPTION)
    assert (sub.tier, sub.characters_left, sub.status) == ("creator", 98800, "active")
    assert sub.next_character_count_reset_unix == 1767225600
    user = account.parse_user(
        {"user_id": "u1", "subscription": SUBSCRIPTION, "xi_api_key": KEY, "first_name": "Ada"}
    )
    assert user.subscription == sub and user.first_name == "Ada"
    assert KEY not in repr(user)
    with pytest.raises(ProtocolError):
        account.parse_subscription({"tier": "free"})
    with pytest.raises(ProtocolError):
        account.parse_subscription([])


def test_voices_and_models() -> None:
    voices = account.parse_voices(
        {
            "voices": [
                {
                    "voice_id": "JBFqnCBsd6RMkjVDRZzb",
                    "name": "George",
                    "category": "premade",
                    "labels": {"accent": "british", "age": "middle_aged"},
                    "available_for_tiers": [],
                    "high_quality_base_model_ids": ["eleven_flash_v2_5"],
                    "verified_languages": [{"language": "en", "model_id": "eleven_flash_v2_5"}],
                },
                {"voice_id": "x", "name": None},
                {"name": "no id"},
            ]
        }
    )
    assert [v.voice_id for v in voices] == ["JBFqnCBsd6RMkjVDRZzb", "x"]
    assert voices[0].language == "en" and voices[1].language == "und" and voices[1].name == "x"
    models = account.parse_models(
        [
            {
                "model_id": "eleven_flash_v2_5",
                "name": "Flash v2.5",
                "can_do_text_to_speech": True,
                "languages": [{"language_id": "en", "name": "English"}],
                "model_rates": {"character_cost_multiplier": 0.5},
                "concurrency_group": "turbo",
                "max_characters_request_subscribed_user": 40000,
            }
        ]
    )
    assert models[0].languages == ("en",) and models[0].character_cost_multiplier == 0.5
    with pytest.raises(ProtocolError):
        account.parse_voices({"nope": 1})
    with pytest.raises(ProtocolError):
        account.parse_models({})
