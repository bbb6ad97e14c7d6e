"""The ElevenLabs cloud voice as a :class:`~voxtray.core.providers.base.Provider`.

Two transports, one behaviour:

* **HTTP** — ``POST /v1/text-to-speech/{voice}/stream`` (or ``/stream/with-timestamps`` when
  ``alignment`` is on, the default: character timing lets a dropped stream resume at the right
  word). Closing the stream stops the generation on the server, so look-ahead that gets
  cancelled stops costing money.
* **WebSocket** — one warm ``multi-stream-input`` socket per voice, one context per segment.
  No handshake per segment, so it is the lowest-latency path for the first words of a request.

``transport="auto"`` sends :attr:`~voxtray.core.model.SynthesisJob.urgent` jobs over the socket
and everything else over HTTP; either falls back to the other when it fails *as a transport*
(connection lost, protocol error, service failure) before any audio was yielded. Errors that
the other transport would only repeat (key, quota, concurrency, a refused request) go straight
to the caller: retries and backoff are the scheduler's job, by error category.

Every generation holds a slot of the provider's :class:`ConcurrencyLimiter` (HTTP for the
whole request, the socket only while its context generates); a 429 for concurrency halves the
limit. The limit starts from the plan (``GET /v1/user/subscription`` on :meth:`warm`) unless
``concurrency_limit`` is given.

The API key is read from ``api_key()`` whenever a request or a socket needs it and goes only
into the ``xi-api-key`` header. When it changes (the user saved another key), what belonged to
the old account goes: the warm socket is replaced, the voice list and the quota are asked again.

The quota (characters used of the plan's limit, and when it resets) comes from the same
subscription answer as the plan: on :meth:`warm`, or in the background when the provider is
first used, and again at most every ``quota_refresh`` seconds while it is in use. Between two
answers the characters it bills move the figure, so :meth:`counters` is current without a
request per look. None of this ever delays a synthesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Literal

from ...errors import (
    ConnectionLostError,
    ProtocolError,
    ProviderError,
    RateLimitedError,
    RequestRejectedError,
    ServiceError,
    VoiceNotFoundError,
    VoxTrayError,
)
from ...model import AudioChunk, Capabilities, SynthesisJob, Voice
from ...orchestrator.limits import ConcurrencyLimiter
from ...secrets import key_fingerprint
from ..base import CacheIdentity, CharacterQuota, ProviderCounters
from .account import (
    ModelInfo,
    Subscription,
    User,
    VoiceInfo,
    parse_models,
    parse_subscription,
    parse_user,
    parse_voices,
)
from .api import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL_ID,
    DEFAULT_SAMPLE_RATE,
    MODELS,
    SUBSCRIPTION,
    USER,
    VOICES,
    WEBSOCKET_PCM_SAMPLE_RATES,
    VoiceSettings,
    build_speech_request,
    model_character_limit,
    output_format,
    plan_concurrency,
    socket_text,
    supports_websocket,
    websocket_url,
)
from .frames import CharacterAlignment, PcmAssembler
from .http import HttpSession
from .ws import WebSocketSession

_LOG = logging.getLogger(__name__)

PROVIDER_ID = "elevenlabs"
DEFAULT_VOICE_ID = "21m00Tcm4TlvDq8ikWAM"
"""Rachel, the premade voice of the API reference examples."""

Transport = Literal["auto", "http", "websocket"]
_TRANSPORT_FAILURES = (ConnectionLostError, ProtocolError, ServiceError)
_MAX_SESSIONS = 2
"""Warm sockets kept at once (one per voice in use); the least recently used one is closed."""
QUOTA_REFRESH = 60.0
"""Seconds between two subscription look-ups while the provider is in use."""


class _Spoken:
    """Turns alignment into :attr:`AudioChunk.spoken_chars` for the text actually sent."""

    def __init__(self, text: str) -> None:
        self._length = len(text)
        self._lead = len(text) - len(text.lstrip())
        self._seen = 0

    def after(self, alignment: CharacterAlignment | None) -> int | None:
        if alignment is None:
            return None
        self._seen += len(alignment)
        return min(self._length, self._lead + self._seen)


_VOICE_ID = re.compile(r"[A-Za-z0-9]{20}")


class ElevenLabsProvider:
    """Speech from ElevenLabs over streaming HTTP and a warm WebSocket (see the module)."""

    def __init__(
        self,
        api_key: Callable[[], str | None],
        *,
        base_url: str = DEFAULT_BASE_URL,
        model_id: str = DEFAULT_MODEL_ID,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        transport: Transport = "auto",
        voice_settings: VoiceSettings | Mapping[str, float | bool] | None = None,
        concurrency_limit: int | None = None,
        default_voice: str = DEFAULT_VOICE_ID,
        language_code: str | None = None,
        enable_logging: bool = True,
        alignment: bool = True,
        connect_timeout: float = 10.0,
        stall_timeout: float = 20.0,
        inactivity_timeout: int = 60,
        socket_idle_timeout: float | None = 600.0,
        quota_refresh: float | None = QUOTA_REFRESH,
        limiter: ConcurrencyLimiter | None = None,
        http: HttpSession | None = None,
    ) -> None:
        if transport not in ("auto", "http", "websocket"):
            raise ValueError(f"transport must be auto, http or websocket, not {transport!r}")
        output_format(sample_rate)  # raises for a rate the service does not offer
        self._api_key = api_key
        self._base_url = base_url
        self._model_id = model_id
        self._rate = sample_rate
        self._transport: Transport = transport
        if isinstance(voice_settings, Mapping):
            voice_settings = VoiceSettings.from_mapping(voice_settings)
        self._settings = voice_settings or VoiceSettings()
        self._fixed_limit = concurrency_limit
        self._default_voice = default_voice
        self._language_code = language_code
        self._enable_logging = enable_logging
        self._alignment = alignment
        self._stall_timeout = stall_timeout
        self._connect_timeout = connect_timeout
        self._inactivity_timeout = inactivity_timeout
        self._socket_idle_timeout = socket_idle_timeout
        self._socket_ok = supports_websocket(model_id) and sample_rate in WEBSOCKET_PCM_SAMPLE_RATES
        if transport == "websocket" and not self._socket_ok:
            raise ValueError(f"{model_id} at {sample_rate} Hz cannot use the WebSocket")
        self._limiter = limiter or ConcurrencyLimiter(
            concurrency_limit or plan_concurrency("free", model_id)
        )
        self._http = http or HttpSession(
            base_url, api_key, connect_timeout=connect_timeout, stall_timeout=stall_timeout
        )
        self._sessions: OrderedDict[str, WebSocketSession] = OrderedDict()
        self._voices: list[VoiceInfo] | None = None
        self._subscription: Subscription | None = None
        self._closed = False
        # quota: the last subscription answer, and what was billed since (see the module)
        self._quota_refresh = quota_refresh
        self._quota_task: asyncio.Task[None] | None = None
        self._quota_asked_at: float | None = None
        self._quota_unavailable = False  # a scoped key that may not read the subscription
        self._spent = 0  # characters billed (HTTP: character-cost; socket: the text sent)
        self._spent_at_answer = 0
        self._account: str | None = None  # a fingerprint of the key the answers are about
        # counters
        self._requests = 0
        self._characters_billed = 0
        self._rate_limited: Counter[str] = Counter()
        self._first_byte: deque[float] = deque(maxlen=64)
        self._retired_ws_opened = 0
        self._retired_ws_reused = 0
        self.fallbacks = 0
        """Segments that one transport failed and the other then served."""

    # -- Provider protocol -------------------------------------------------------------------

    @property
    def id(self) -> str:
        return PROVIDER_ID

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_chars=model_character_limit(self._model_id),
            max_concurrency=self._limiter.limit,
            sample_rates=(self._rate,),
            alignment=True,
            streaming=True,
            rate_range=self._settings.rate_range,
        )

    @property
    def limiter(self) -> ConcurrencyLimiter:
        return self._limiter

    async def warm(self) -> None:
        """Open the HTTP connection (learning the plan's limit) and the default voice's socket.

        A socket that cannot open is not an error here: HTTP still works and says why if not.
        """
        jobs = [self._warm_http()]
        if self._transport != "http" and self._socket_ok:
            jobs.append(self._warm_socket(self._default_voice))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _warm_http(self) -> None:
        if self._fixed_limit is not None:
            await self._http.get_json(MODELS)
            return
        try:
            subscription = await self.subscription()
        except RequestRejectedError:  # a scoped key without user_read: keep the Free figures
            await self._http.get_json(MODELS)
            return
        self._limiter.set_ceiling(plan_concurrency(subscription.tier, self._model_id))

    async def _warm_socket(self, voice: str) -> None:
        try:
            voice_id = await self.resolve_voice(voice)
            await (await self._session(voice_id)).start()
        except ProviderError as exc:
            _LOG.info("The ElevenLabs socket could not open; HTTP will be used: %s", exc)

    async def voices(self, *, refresh: bool = False) -> list[Voice]:
        """The account's voices (cached for the provider's lifetime unless ``refresh``)."""
        return [
            Voice(PROVIDER_ID, v.voice_id, v.name, v.language, self._rate)
            for v in await self.voice_catalog(refresh=refresh)
        ]

    async def resolve_voice(self, name_or_id: str) -> str:
        """A voice id for what the user wrote: an id as it is, or a voice's name (any case).

        Ids are 20 letters and digits; anything else is looked up among the account's voices,
        so settings and ``--voice`` can say "Rachel" rather than "21m00Tcm4TlvDq8ikWAM".
        """
        if _VOICE_ID.fullmatch(name_or_id):
            return name_or_id
        wanted = name_or_id.casefold()
        for voice in await self.voice_catalog():
            if voice.name.casefold() == wanted or voice.voice_id == name_or_id:
                return voice.voice_id
        raise VoiceNotFoundError(
            f"There is no ElevenLabs voice called “{name_or_id}” "
            "(see `voxtray voices --provider elevenlabs`)."
        )

    async def cache_identity(self, job: SynthesisJob) -> CacheIdentity:
        """What besides the text shapes this job's audio (see :class:`CachesAudio`)."""
        voice_id = await self.resolve_voice(job.voice.voice_id or self._default_voice)
        return CacheIdentity(
            voice=voice_id,
            model=self._model_id,
            settings=self._settings.at_rate(job.rate).to_json() or {},
            audio_format=output_format(self._rate),
            context=job.previous_text,
        )

    async def voice_catalog(self, *, refresh: bool = False) -> list[VoiceInfo]:
        """The voices with everything ElevenLabs says about them."""
        if self._voices is None or refresh:
            self._voices = parse_voices(await self._http.get_json(VOICES))
        return list(self._voices)

    async def subscription(self) -> Subscription:
        """The plan and its characters, asked now; :meth:`counters` reports them from then on."""
        self._follow_account()
        account = self._account
        self._quota_asked_at = time.monotonic()
        subscription = parse_subscription(await self._http.get_json(SUBSCRIPTION))
        if account == self._account:  # not an answer about a key replaced meanwhile
            self._subscription = subscription
            self._spent_at_answer = self._spent
        return subscription

    async def user(self) -> User:
        return parse_user(await self._http.get_json(USER))

    async def models(self) -> list[ModelInfo]:
        return parse_models(await self._http.get_json(MODELS))

    async def synthesize(self, job: SynthesisJob) -> AsyncIterator[AudioChunk]:
        text = job.segment.text
        if not text.strip():
            return
        if self._closed:
            raise ConnectionLostError("The ElevenLabs voice has been shut down.")
        self._follow_account()
        self._refresh_quota_soon()
        voice_id = await self.resolve_voice(job.voice.voice_id or self._default_voice)
        settings = self._settings.at_rate(job.rate)
        order = self._transports_for(job, voice_id)
        for attempt, transport in enumerate(order):
            produced = False
            try:
                chunks = (
                    self._via_socket(voice_id, text, settings)
                    if transport == "websocket"
                    else self._via_http(voice_id, text, settings, job)
                )
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        produced = True
                        yield chunk
                return
            except _TRANSPORT_FAILURES as exc:
                last = attempt == len(order) - 1
                if produced or last or not self._may_fall_back(order[attempt + 1], voice_id):
                    raise
                _LOG.info("ElevenLabs %s failed (%s); trying the other transport", transport, exc)
                self.fallbacks += 1

    def _transports_for(self, job: SynthesisJob, voice_id: str) -> list[str]:
        if self._transport == "http" or not self._socket_ok:
            return ["http"]
        if self._transport == "websocket":
            return ["websocket", "http"]
        return ["websocket", "http"] if job.urgent else ["http", "websocket"]

    def _may_fall_back(self, transport: str, voice_id: str) -> bool:
        if transport == "http":
            return True
        # To the socket only when it is already open: offline, a second connect would only
        # double the wait; a socket that failed at once is not tried again.
        session = self._sessions.get(voice_id)
        return session is not None and session.is_connected

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        task, self._quota_task = self._quota_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await session.aclose()
        await self._http.aclose()

    # -- the two transports --------------------------------------------------------------------

    async def _via_http(
        self, voice_id: str, text: str, settings: VoiceSettings, job: SynthesisJob
    ) -> AsyncGenerator[AudioChunk, None]:
        sent = text.strip()
        request = build_speech_request(
            voice_id,
            sent,
            model_id=self._model_id,
            sample_rate=self._rate,
            voice_settings=settings,
            previous_text=job.previous_text,
            next_text=job.next_text,
            language_code=self._language_code,
            enable_logging=self._enable_logging,
            with_timestamps=self._alignment,
        )
        spoken = _Spoken(text)
        async with self._limiter.slot():
            self._requests += 1
            started = time.monotonic()
            first = True
            try:
                async with self._http.stream(request) as response:
                    audio = response.aiter_audio(timestamped=self._alignment)
                    async with contextlib.aclosing(audio):
                        async for pcm, alignment in audio:
                            chars = spoken.after(alignment)
                            if not pcm:
                                continue
                            if first:
                                self._first_byte.append(time.monotonic() - started)
                                first = False
                            yield AudioChunk(pcm, self._rate, chars)
                    cost = response.info.character_cost
                    if cost is not None:
                        self._characters_billed += cost
                    self._spent += len(sent) if cost is None else cost
            except RateLimitedError as exc:
                self._rate_limited_by(exc)
                raise
            self._limiter.on_success()

    async def _via_socket(
        self, voice_id: str, text: str, settings: VoiceSettings
    ) -> AsyncGenerator[AudioChunk, None]:
        session = await self._session(voice_id)
        spoken = _Spoken(text)
        samples = PcmAssembler()
        async with self._limiter.slot():
            self._requests += 1
            started = time.monotonic()
            first = True
            try:
                frames = session.speak(text.strip(), settings)
                async with contextlib.aclosing(frames):
                    async for audio in frames:
                        pcm = samples.feed(audio.frame.pcm)
                        if not pcm:
                            continue
                        if first:
                            self._first_byte.append(time.monotonic() - started)
                            first = False
                        yield AudioChunk(pcm, self._rate, spoken.after(audio.frame.alignment))
                self._spent += len(socket_text(text.strip()))  # no cost is named: what was sent
            except RateLimitedError as exc:
                self._rate_limited_by(exc)
                raise
            self._limiter.on_success()

    def _rate_limited_by(self, error: RateLimitedError) -> None:
        self._rate_limited[error.kind] += 1
        if error.kind == "concurrency":
            self._limiter.on_concurrency_rejected()

    async def _session(self, voice_id: str) -> WebSocketSession:
        session = self._sessions.get(voice_id)
        if session is not None:
            self._sessions.move_to_end(voice_id)
            return session
        session = WebSocketSession(
            websocket_url(
                self._base_url,
                voice_id,
                model_id=self._model_id,
                sample_rate=self._rate,
                inactivity_timeout=self._inactivity_timeout,
                enable_logging=self._enable_logging,
                language_code=self._language_code,
            ),
            self._api_key,
            open_timeout=self._connect_timeout,
            stall_timeout=self._stall_timeout,
            keepalive_interval=max(1.0, self._inactivity_timeout / 3),
            idle_timeout=self._socket_idle_timeout,
        )
        self._sessions[voice_id] = session
        while len(self._sessions) > _MAX_SESSIONS:
            _, old = self._sessions.popitem(last=False)
            self._retired_ws_opened += old.connections_opened
            self._retired_ws_reused += old.contexts_on_warm_socket
            await old.aclose()
        return session

    # -- figures -------------------------------------------------------------------------------

    def counters(self) -> ProviderCounters:
        sessions = list(self._sessions.values())
        return ProviderCounters(
            provider=PROVIDER_ID,
            requests=self._requests,
            characters_billed=self._characters_billed,
            rate_limited=dict(self._rate_limited),
            connections_opened=self._http.connections_opened
            + self._retired_ws_opened
            + sum(s.connections_opened for s in sessions),
            connections_reused=self._http.connections_reused
            + self._retired_ws_reused
            + sum(s.contexts_on_warm_socket for s in sessions),
            first_byte_seconds=tuple(self._first_byte),
            concurrency_limit=self._limiter.limit,
            quota=self._quota(),
        )

    # -- quota and account ---------------------------------------------------------------------

    def _quota(self) -> CharacterQuota | None:
        subscription = self._subscription
        if subscription is None:
            return None
        reset = subscription.next_character_count_reset_unix
        return CharacterQuota(
            used=subscription.character_count + self._spent - self._spent_at_answer,
            limit=subscription.character_limit,
            resets_at=float(reset) if reset is not None else None,
        )

    def _refresh_quota_soon(self) -> None:
        """Ask for the subscription in the background if the last answer is old enough."""
        if self._quota_refresh is None or self._quota_unavailable or self._closed:
            return
        if self._quota_task is not None and not self._quota_task.done():
            return
        asked = self._quota_asked_at
        if asked is not None and time.monotonic() - asked < self._quota_refresh:
            return
        self._quota_asked_at = time.monotonic()
        self._quota_task = asyncio.get_running_loop().create_task(
            self._refresh_quota(), name="elevenlabs-quota"
        )

    async def _refresh_quota(self) -> None:
        try:
            await self.subscription()
        except RequestRejectedError:  # a scoped key without user_read: it will not change
            self._quota_unavailable = True
        except VoxTrayError as exc:  # offline, a bad key…: the next request says so properly
            _LOG.info("The ElevenLabs quota could not be looked up: %s", exc)

    def _follow_account(self) -> None:
        """Forget what belonged to another key's account (the user saved a new key)."""
        key = self._api_key()
        if key is None:
            return  # the request itself reports the missing key
        account = key_fingerprint(key)
        if self._account is not None and account != self._account:
            self._subscription = None
            self._voices = None
            self._quota_asked_at = None
            self._quota_unavailable = False
        self._account = account
