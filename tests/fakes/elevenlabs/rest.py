"""REST endpoints: text-to-speech (four variants), voices, models, user and subscription.

Order of checks for text-to-speech, as a live probe reported (elevenlabs-api.md §1.3): 422 body
validation first, then the key, the voice, the model, the output format, the model's character
limit, the quota, injected faults, and finally the per-key concurrency limit.
"""

from __future__ import annotations

import asyncio
import base64
import json
from contextlib import aclosing
from typing import Any

from aiohttp import web

from . import protocol as p
from .catalog import DEFAULT_MODEL_ID, MODELS, VOICES, model_json, voice_json
from .core import FakeCore, parse_output_format
from .faults import RequestFaults
from .synth import Chunk, chunks

_RANGES = {
    "stability": (0.0, 1.0),
    "similarity_boost": (0.0, 1.0),
    "style": (0.0, 1.0),
    "speed": (0.7, 1.2),
}


def validate(raw: bytes) -> tuple[dict[str, Any] | None, list[p.ValidationIssue]]:
    """The parsed body, or the 422 issues FastAPI would report."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return None, [p.ValidationIssue(("body", 0), "JSON decode error", "json_invalid", str(exc))]
    if not isinstance(body, dict):
        return None, [
            p.ValidationIssue(("body",), "Input should be a valid dictionary", "dict_type", body)
        ]
    issues: list[p.ValidationIssue] = []
    text = body.get("text")
    if "text" not in body:
        issues.append(p.ValidationIssue(("body", "text"), "Field required", "missing", body))
    elif not isinstance(text, str):
        issues.append(
            p.ValidationIssue(
                ("body", "text"), "Input should be a valid string", "string_type", text
            )
        )
    settings = body.get("voice_settings")
    if isinstance(settings, dict):
        for name, (low, high) in _RANGES.items():
            value = settings.get(name)
            if value is None:
                continue
            loc = ("body", "voice_settings", name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                issues.append(
                    p.ValidationIssue(loc, "Input should be a valid number", "float_type", value)
                )
            elif value < low:
                issues.append(
                    p.ValidationIssue(
                        loc,
                        f"Input should be greater than or equal to {low:g}",
                        "greater_than_equal",
                        value,
                    )
                )
            elif value > high:
                issues.append(
                    p.ValidationIssue(
                        loc,
                        f"Input should be less than or equal to {high:g}",
                        "less_than_equal",
                        value,
                    )
                )
    normalization = body.get("apply_text_normalization")
    if normalization is not None and normalization not in ("auto", "on", "off"):
        issues.append(
            p.ValidationIssue(
                ("body", "apply_text_normalization"),
                "Input should be 'auto', 'on' or 'off'",
                "enum",
                normalization,
            )
        )
    return body, issues


def alignment_seconds(chars: tuple[Any, ...], offset: float = 0.0) -> dict[str, list[Any]]:
    return {
        "characters": [c.char for c in chars],
        "character_start_times_seconds": [round(offset + c.start, 3) for c in chars],
        "character_end_times_seconds": [round(offset + c.start + c.duration, 3) for c in chars],
    }


class RestApi:
    def __init__(self, core: FakeCore) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/text-to-speech/{voice_id}", self.convert),
            web.post("/v1/text-to-speech/{voice_id}/stream", self.stream),
            web.post("/v1/text-to-speech/{voice_id}/with-timestamps", self.convert_timestamps),
            web.post(
                "/v1/text-to-speech/{voice_id}/stream/with-timestamps", self.stream_timestamps
            ),
            web.get("/v1/voices", self.voices),
            web.get("/v1/voices/{voice_id}", self.voice),
            web.get("/v1/models", self.models),
            web.get("/v1/user", self.user),
            web.get("/v1/user/subscription", self.subscription),
        ]

    # -- account endpoints --------------------------------------------------------------------

    async def _authorised(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        key = request.headers.get("xi-api-key")
        index = self.core.state.open_request(request.method, request.path, key)
        if not key:
            response = self.core.error(401, "needs_authorization", p.NO_KEY_MESSAGE)
        elif self.core.state.account(key) is None:
            response = self.core.error(401, "invalid_api_key", p.INVALID_KEY_MESSAGE)
        else:
            response = None
        self.core.state.update_request(index, status=response.status if response else 200)
        self.core.state.close_request(index)
        return key, response

    async def voices(self, request: web.Request) -> web.Response:
        _, denied = await self._authorised(request)
        if denied:
            return denied
        return web.json_response({"voices": [voice_json(v) for v in VOICES.values()]})

    async def voice(self, request: web.Request) -> web.Response:
        _, denied = await self._authorised(request)
        if denied:
            return denied
        voice_id = request.match_info["voice_id"]
        if voice_id not in VOICES:
            return self.core.error(
                self.core.config.voice_not_found_status,
                "voice_not_found",
                p.VOICE_NOT_FOUND_MESSAGE.format(voice_id=voice_id),
            )
        return web.json_response(voice_json(VOICES[voice_id]))

    async def models(self, request: web.Request) -> web.Response:
        _, denied = await self._authorised(request)
        if denied:
            return denied
        return web.json_response([model_json(m) for m in MODELS.values()])

    def _subscription(self, key: str) -> dict[str, Any]:
        sub = self.core.state.subscription(key)
        return {
            **sub,
            "status": "free" if sub["tier"] == "free" else "active",
            "can_extend_character_limit": False,
            "allowed_to_extend_character_limit": False,
            "max_character_limit_extension": 0,
            "voice_slots_used": 0,
            "voice_limit": 3,
            "professional_voice_limit": 0,
            "professional_voice_slots_used": 0,
            "voice_add_edit_counter": 0,
            "max_voice_add_edits": 0,
            "can_extend_voice_limit": False,
            "can_use_instant_voice_cloning": sub["tier"] != "free",
            "can_use_professional_voice_cloning": False,
            "currency": "usd",
            "billing_period": "monthly_period",
            "character_refresh_period": "monthly_period",
        }

    async def subscription(self, request: web.Request) -> web.Response:
        key, denied = await self._authorised(request)
        if denied or key is None:
            return denied or web.Response(status=500)
        if self.core.config.account_latency:
            await asyncio.sleep(self.core.config.account_latency)  # the service is slow
        body = self._subscription(key)
        body.update(
            {
                "next_invoice": None,
                "has_open_invoices": False,
                "pending_change": None,
            }
        )
        return web.json_response(body)

    async def user(self, request: web.Request) -> web.Response:
        key, denied = await self._authorised(request)
        if denied or key is None:
            return denied or web.Response(status=500)
        return web.json_response(
            {
                "user_id": "fake-" + p.fingerprint(key).split("…")[1],
                "subscription": self._subscription(key),
                "subscription_extras": None,
                "is_new_user": False,
                "xi_api_key": None,
                "xi_api_key_preview": None,
                "is_api_key_hashed": True,
                "first_name": "Test",
                "is_onboarding_completed": True,
                "is_onboarding_checklist_completed": True,
                "created_at": 1_700_000_000,
                "referral_link_code": None,
            }
        )

    # -- text to speech -----------------------------------------------------------------------

    async def convert(self, request: web.Request) -> web.StreamResponse:
        return await self._tts(request, streaming=False, timestamps=False)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        return await self._tts(request, streaming=True, timestamps=False)

    async def convert_timestamps(self, request: web.Request) -> web.StreamResponse:
        return await self._tts(request, streaming=False, timestamps=True)

    async def stream_timestamps(self, request: web.Request) -> web.StreamResponse:
        return await self._tts(request, streaming=True, timestamps=True)

    async def _tts(
        self, request: web.Request, *, streaming: bool, timestamps: bool
    ) -> web.StreamResponse:
        core = self.core
        key = request.headers.get("xi-api-key")
        index = core.state.open_request(request.method, request.path, key)
        task = asyncio.current_task()
        assert task is not None
        core.live.add(task)
        response: web.StreamResponse | None = None
        closed_by_client = False
        try:
            response = await self._checked_tts(request, index, key, streaming, timestamps)
            return response
        except (asyncio.CancelledError, ConnectionResetError):
            closed_by_client = True
            raise
        finally:
            core.live.discard(task)
            if response is not None:
                core.state.update_request(index, status=response.status)
            core.state.close_request(index, closed_by_client=closed_by_client)

    async def _checked_tts(
        self,
        request: web.Request,
        index: int,
        key: str | None,
        streaming: bool,
        timestamps: bool,
    ) -> web.StreamResponse:
        core = self.core
        body, issues = validate(await request.read())
        if issues or body is None:
            return web.json_response(p.validation_body(issues), status=422)
        text: str = body["text"]
        if not key:
            return core.error(401, "needs_authorization", p.NO_KEY_MESSAGE)
        account = core.state.account(key)
        if account is None:
            return core.error(401, "invalid_api_key", p.INVALID_KEY_MESSAGE)
        voice_id = request.match_info["voice_id"]
        if voice_id not in VOICES:
            return core.error(
                core.config.voice_not_found_status,
                "voice_not_found",
                p.VOICE_NOT_FOUND_MESSAGE.format(voice_id=voice_id),
            )
        model_id = body.get("model_id") or DEFAULT_MODEL_ID
        model = MODELS.get(model_id)
        if model is None:
            return core.error(
                400, "model_not_found", p.MODEL_NOT_FOUND_MESSAGE.format(model_id=model_id)
            )
        output_format = request.query.get("output_format")
        rate = parse_output_format(output_format)
        if rate is None:
            return core.error(
                400,
                "invalid_output_format",
                p.OUTPUT_FORMAT_MESSAGE.format(output_format=output_format or "mp3_44100_128"),
            )
        if len(text) > model.max_characters:
            return core.error(
                400,
                "max_character_limit_exceeded",
                p.CHAR_LIMIT_MESSAGE.format(count=len(text), limit=model.max_characters),
            )
        if account.remaining < len(text):
            return core.error(
                401,
                "quota_exceeded",
                p.QUOTA_MESSAGE.format(
                    limit=account.character_limit, remaining=account.remaining, required=len(text)
                ),
            )
        faults = core.faults.draw("http")
        if faults.error_status is not None:
            return core.error(faults.error_status, "internal_server_error", p.SERVER_ERROR_MESSAGE)
        if faults.busy_code is not None:
            message = (
                p.SYSTEM_BUSY_MESSAGE if faults.busy_code == "system_busy" else p.RATE_LIMIT_MESSAGE
            )
            headers = (
                {"Retry-After": f"{faults.retry_after:g}"}
                if faults.retry_after is not None
                else None
            )
            return core.error(429, faults.busy_code, message, headers=headers)
        granted, current, limit = core.state.try_acquire(key, model.concurrency_group)
        if not granted and core.config.concurrency_queue_seconds > 0:
            deadline = asyncio.get_running_loop().time() + core.config.concurrency_queue_seconds
            while not granted and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
                granted, current, limit = core.state.try_acquire(key, model.concurrency_group)
        if not granted:
            retry = core.config.concurrency_retry_after
            return core.error(
                429,
                "too_many_concurrent_requests",
                p.CONCURRENCY_MESSAGE.format(limit=limit),
                headers={"Retry-After": f"{retry:g}"} if retry is not None else None,
            )
        with core.state.slot(key, model.concurrency_group):
            request_id = p.new_request_id()
            core.state.update_request(index, request_id=request_id)
            headers = {
                "request-id": request_id,
                "character-cost": str(len(text)),
                "current-concurrent-requests": str(current),
                "maximum-concurrent-requests": str(limit),
                "x-trace-id": p.new_trace_id(),
                "Content-Type": (
                    ("application/x-ndjson" if streaming else "application/json")
                    if timestamps
                    else "audio/pcm"
                ),
            }
            produced = chunks(
                core.synth,
                text,
                rate,
                core.config.mode,
                core.config.tone_seconds_per_char,
                faults.chunk_seconds,
            )
            async with aclosing(produced) as audio:
                if streaming:
                    return await self._send_stream(
                        request, audio, headers, faults, key, index, timestamps
                    )
                return await self._send_whole(
                    request, audio, headers, faults, key, index, timestamps
                )

    async def _send_stream(
        self,
        request: web.Request,
        audio: Any,
        headers: dict[str, str],
        faults: RequestFaults,
        key: str,
        index: int,
        timestamps: bool,
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        response = web.StreamResponse(status=200, headers=headers)
        response.enable_chunked_encoding()
        if faults.latency:
            await asyncio.sleep(faults.latency)
        await response.prepare(request)
        sent_bytes = 0
        started = loop.time()
        number = 0
        async for chunk in audio:
            if faults.stall_after_chunks is not None and number >= faults.stall_after_chunks:
                await asyncio.Event().wait()  # until the client hangs up (handler cancelled)
            if number and faults.chunk_gap:
                await asyncio.sleep(faults.chunk_gap)
            if faults.pace:
                delay = started + chunk.start / faults.pace - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if timestamps and faults.malformed_after_chunks == number:
                await response.write(b'{"audio_base64": "AAAA", "alignment": \n')
            data = self._line(chunk, number, faults) if timestamps else chunk.pcm
            number += 1
            if faults.drop_after_chunks is not None and number > faults.drop_after_chunks:
                return self._abort(request, response)
            if (
                faults.drop_after_bytes is not None
                and sent_bytes + len(data) >= faults.drop_after_bytes
            ):
                await response.write(data[: faults.drop_after_bytes - sent_bytes])
                return self._abort(request, response)
            await response.write(data)
            sent_bytes += len(data)
            self.core.state.bill(key, len(chunk.chars), index)
        await response.write_eof()
        return response

    async def _send_whole(
        self,
        request: web.Request,
        audio: Any,
        headers: dict[str, str],
        faults: RequestFaults,
        key: str,
        index: int,
        timestamps: bool,
    ) -> web.StreamResponse:
        pcm: list[bytes] = []
        chars: list[Any] = []
        async for chunk in audio:
            pcm.append(chunk.pcm)
            chars.extend(chunk.chars)
            self.core.state.bill(key, len(chunk.chars), index)
        if timestamps:
            alignment = alignment_seconds(tuple(chars))
            body = json.dumps(
                {
                    "audio_base64": base64.b64encode(b"".join(pcm)).decode(),
                    "alignment": alignment,
                    "normalized_alignment": alignment,
                }
            ).encode()
        else:
            body = b"".join(pcm)
        if faults.latency:
            await asyncio.sleep(faults.latency)
        response = web.StreamResponse(status=200, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        if faults.stall_after_chunks is not None:
            await asyncio.Event().wait()
        if faults.drop_after_bytes is not None:
            await response.write(body[: faults.drop_after_bytes])
            return self._abort(request, response)
        await response.write(body)
        await response.write_eof()
        return response

    @staticmethod
    def _line(chunk: Chunk, number: int, faults: RequestFaults) -> bytes:
        null = faults.null_alignment_every and (number + 1) % faults.null_alignment_every == 0
        alignment = None if null else alignment_seconds(chunk.chars)
        return (
            json.dumps(
                {
                    "audio_base64": base64.b64encode(chunk.pcm).decode(),
                    "alignment": alignment,
                    "normalized_alignment": alignment,
                }
            ).encode()
            + b"\n"
        )

    @staticmethod
    def _abort(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """Cut the TCP connection mid-body: the client sees a truncated response."""
        if request.transport is not None:
            request.transport.abort()
        return response
