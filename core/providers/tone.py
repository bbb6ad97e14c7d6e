"""A provider that "speaks" pure tones.

It exists so the rest of the pipeline can be checked exactly: a recording of tones tells which
request or which segment played, in which order, for how long and with what gaps, where speech
would only tell that *something* played. ``voxtray speak --provider tone`` is also a quick
check that sound comes out at all, with no voice model involved.

Voice ids:

* ``"440"``: every segment at 440 Hz;
* ``"step:300:40"``: segment *n* at 300 + 40·n Hz (so the order of segments can be read back).

A segment lasts ``seconds_per_char`` per character (at rate 1.0). ``first_chunk_delay`` and
``realtime_factor`` make it behave like a slower provider, for look-ahead and latency tests.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import numpy as np

from ..errors import VoiceNotFoundError
from ..model import AudioChunk, Capabilities, SynthesisJob, Voice

PROVIDER_ID = "tone"
DEFAULT_VOICE_ID = "440"


def tone_frequency(voice_id: str, segment_index: int) -> float:
    """The pitch of a segment for a voice id (see the module docstring)."""
    try:
        if voice_id.startswith("step:"):
            _, base, step = voice_id.split(":")
            return float(base) + float(step) * segment_index
        return float(voice_id)
    except ValueError as exc:
        raise VoiceNotFoundError(
            f"“{voice_id}” is not a tone voice: use a frequency such as 440 or step:300:40."
        ) from exc


class ToneProvider:
    """Sine tones in place of speech; deterministic, instant and cheap."""

    def __init__(
        self,
        *,
        sample_rate: int = 22050,
        seconds_per_char: float = 0.04,
        min_seconds: float = 0.1,
        chunk_seconds: float = 0.05,
        first_chunk_delay: float = 0.0,
        realtime_factor: float = 0.0,
        max_chars: int = 400,
        concurrency: int = 2,
        amplitude: float = 0.4,
        rate_range: tuple[float, float] = (0.25, 4.0),
        alignment: bool = False,
    ) -> None:
        """``rate_range`` plays a voice that cannot reach every speed by itself (as the cloud
        voice), so the time-stretching of the rest can be tested exactly. ``alignment`` makes
        every chunk say how many characters it has covered (time spread evenly over the text),
        as the cloud voice's timestamps do."""
        self._rate = sample_rate
        self._seconds_per_char = seconds_per_char
        self._min_seconds = min_seconds
        self._chunk_frames = max(1, int(chunk_seconds * sample_rate))
        self._first_chunk_delay = first_chunk_delay
        self._realtime_factor = realtime_factor
        self._amplitude = amplitude
        self._capabilities = Capabilities(
            max_chars=max_chars,
            max_concurrency=concurrency,
            sample_rates=(sample_rate,),
            streaming=True,
            rate_range=rate_range,
            alignment=alignment,
        )
        self.jobs_started = 0
        """How many synthesis calls began (tests check that cancelled work stops)."""

    @property
    def id(self) -> str:
        return PROVIDER_ID

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def warm(self) -> None:
        return None

    async def voices(self) -> list[Voice]:
        return [
            Voice(PROVIDER_ID, DEFAULT_VOICE_ID, "440 Hz tone", "zxx", self._rate),
            Voice(PROVIDER_ID, "step:300:40", "Rising tone per segment", "zxx", self._rate),
        ]

    def duration_of(self, job: SynthesisJob) -> float:
        """How long the tone for a job lasts."""
        chars = len(job.segment.text.strip())
        return max(self._min_seconds, chars * self._seconds_per_char) / job.rate

    async def synthesize(self, job: SynthesisJob) -> AsyncIterator[AudioChunk]:
        self.jobs_started += 1
        frequency = tone_frequency(job.voice.voice_id or DEFAULT_VOICE_ID, job.segment.index)
        total = round(self.duration_of(job) * self._rate)
        if self._first_chunk_delay:
            await asyncio.sleep(self._first_chunk_delay)
        phase_step = 2.0 * math.pi * frequency / self._rate
        fade = min(total // 2, int(0.005 * self._rate))  # 5 ms ramps: no clicks at the joins
        for start in range(0, total, self._chunk_frames):
            frames = np.arange(start, min(total, start + self._chunk_frames))
            wave = self._amplitude * np.sin(phase_step * frames)
            if fade:
                envelope = np.minimum(1.0, np.minimum(frames + 1, total - frames) / fade)
                wave *= envelope
            if self._realtime_factor:
                await asyncio.sleep(len(frames) / self._rate * self._realtime_factor)
            else:
                await asyncio.sleep(0)  # stay cancellable like a real provider
            spoken = None
            if self._capabilities.alignment:
                spoken = round(len(job.segment.text) * min(total, start + len(frames)) / total)
            yield AudioChunk((wave * 32767).astype("<i2").tobytes(), self._rate, spoken)

    async def aclose(self) -> None:
        return None
