"""File export and the null sink: round trips through real encoders, decoded and analysed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from voxtray.core.audio.sinks import FileSink, NullSink, resolve_format, supported_formats
from voxtray.core.errors import AudioError
from voxtray.core.model import AudioChunk

from tests.harness.signal import db, dominant_frequency, rms, sound_spans, tone

SRC_RATE = 22050


def chunks(freq: float, seconds: float, size: float = 0.05) -> list[AudioChunk]:
    data = (tone(freq, seconds, SRC_RATE) * 32767).astype("<i2").tobytes()
    step = int(size * SRC_RATE) * 2
    return [AudioChunk(data[i : i + step], SRC_RATE) for i in range(0, len(data), step)]


EXPORTS = [ext for ext in (".wav", ".flac", ".ogg", ".mp3") if ext in supported_formats()]


def test_the_installed_libsndfile_writes_the_formats_we_promise() -> None:
    # soundfile's wheel bundles libsndfile ≥ 1.1: MP3 is expected, not optional, here.
    assert EXPORTS == [".wav", ".flac", ".ogg", ".mp3"]


@pytest.mark.parametrize("ext", EXPORTS)
async def test_file_round_trip_keeps_duration_and_pitch(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"out{ext}"
    sink = FileSink(path, sample_rate=24000)
    await sink.open()
    for freq in (440.0, 880.0):  # two utterances into one file, in order
        utt = sink.start_utterance()
        for chunk in chunks(freq, 1.0):
            await utt.write(chunk)
        mark = utt.mark()
        utt.end()
        finished = await utt.finished
        assert (await utt.first_sound) <= finished
        assert mark.done()
    await sink.aclose()

    data, rate = sf.read(path, dtype="float32")
    assert rate == 24000
    # MP3 encoders pad the start and the end with a little silence: judge the sound part.
    spans = sound_spans(data, rate, threshold=db(-30), min_gap=0.02)
    assert len(spans) == 1, spans
    assert spans[0].duration == pytest.approx(2.0, abs=0.03)
    start = int(spans[0].start * rate)
    first, second = data[start : start + rate], data[start + rate : start + 2 * rate]
    assert dominant_frequency(first[1000:-1000], rate) == pytest.approx(440, rel=0.01)
    assert dominant_frequency(second[1000:-1000], rate) == pytest.approx(880, rel=0.01)
    assert rms(first) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    assert sink.counters().frames_played == pytest.approx(2 * 24000, abs=2)


def test_format_by_extension_or_name_and_clear_errors(tmp_path: Path) -> None:
    assert resolve_format(tmp_path / "a.WAV") == ("WAV", "PCM_16")
    assert resolve_format(tmp_path / "a.bin", "flac") == ("FLAC", "PCM_16")
    with pytest.raises(AudioError, match=r"choose one of .*wav"):
        resolve_format(tmp_path / "a.xyz")
    with pytest.raises(AudioError, match="without extension"):
        FileSink(tmp_path / "noext")


async def test_unwritable_path_is_an_audio_error(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "missing-dir" / "out.wav")
    with pytest.raises(AudioError, match="Cannot write"):
        await sink.open()


async def test_discarded_file_utterance_writes_no_more(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    sink = FileSink(path, sample_rate=SRC_RATE)
    await sink.open()
    utt = sink.start_utterance()
    parts = chunks(440, 1.0, size=0.5)
    await utt.write(parts[0])
    utt.discard()
    await utt.write(parts[1])  # a no-op
    assert utt.finished.cancelled()
    await sink.aclose()
    assert sf.info(path).frames == len(parts[0].pcm) // 2


async def test_null_sink_counts_and_resolves() -> None:
    sink = NullSink(sample_rate=48000)
    await sink.open()
    utt = sink.start_utterance()
    for chunk in chunks(440, 0.5):
        await utt.write(chunk)
    utt.end()
    await utt.finished
    assert utt.first_sound.done()
    assert sink.counters().frames_played == pytest.approx(24000, abs=2)
    silent = sink.start_utterance()
    silent.end()
    assert await silent.first_sound <= await silent.finished  # all-silent still resolves
    await sink.aclose()
