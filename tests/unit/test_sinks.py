"""File export and the null sink: round trips through real encoders, decoded and analysed."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from voxtray.core.audio import sinks
from voxtray.core.audio.output import UtteranceOutput
from voxtray.core.audio.sinks import (
    FileSink,
    NullSink,
    folder_problem,
    resolve_format,
    supported_formats,
    write_problem,
)
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


def assert_clean_sentence(message: str) -> None:
    """One plain sentence: no libsndfile wording, one period at the end."""
    assert message.startswith("Cannot write "), message
    assert message.endswith(".") and not message.endswith(".."), message
    for jargon in ("Error opening", "System error", "libsndfile", "''"):
        assert jargon not in message, message


async def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "out.wav"
    sink = FileSink(path)
    with pytest.raises(AudioError) as failure:
        await sink.open()
    assert str(failure.value) == (
        f"Cannot write {path}: the folder {tmp_path / 'missing-dir'} does not exist."
    )


async def test_a_folder_in_place_of_the_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "out.wav").mkdir()
    with pytest.raises(AudioError) as failure:
        await FileSink(tmp_path / "out.wav").open()
    assert str(failure.value) == f"Cannot write {tmp_path / 'out.wav'}: out.wav is a folder."


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
async def test_a_device_that_refuses_writes_is_one_clean_sentence() -> None:
    with pytest.raises(AudioError) as failure:
        await FileSink(Path("/dev/full"), format="wav").open()
    assert_clean_sentence(str(failure.value))
    assert "disk may be full" in str(failure.value)


async def write_all(utt: UtteranceOutput, parts: list[AudioChunk]) -> None:
    for chunk in parts:
        await utt.write(chunk)
    utt.end()
    await utt.finished


async def test_a_write_that_fails_half_way_is_one_clean_sentence(tmp_path: Path) -> None:
    """The file system stops taking data (a file-size limit here, a full disk for users)."""
    sink = FileSink(tmp_path / "out.wav", sample_rate=SRC_RATE)
    await sink.open()
    utt = sink.start_utterance()
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills us
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (32_768, limits[1]))
    try:
        with pytest.raises(AudioError) as failure:
            await write_all(utt, chunks(440, 3.0, size=0.5))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
        with contextlib.suppress(AudioError):
            await sink.aclose()
    assert_clean_sentence(str(failure.value))
    assert str(tmp_path / "out.wav") in str(failure.value)


def test_a_read_only_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(Tests run as root, who may write anywhere: the permission answer is the system's.)"""
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if Path(path) == tmp_path else real(path, mode)
    )
    assert write_problem(tmp_path / "out.wav") == f"the folder {tmp_path} is not writable"
    assert folder_problem(tmp_path / "none") == f"the folder {tmp_path / 'none'} does not exist"
    assert write_problem(Path(__file__).parent / "new.wav") is None


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


def test_a_format_this_library_lacks_names_the_version_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sinks, "supported_formats", lambda: {".wav": ("WAV", "PCM_16")})
    for name, version in (("a.mp3", "1.1"), ("a.opus", "1.0.29")):
        with pytest.raises(AudioError) as failure:
            resolve_format(Path(name))
        message = str(failure.value)
        assert f"cannot write {name[2:]} files; they need version {version} or newer." in message
        assert message.endswith(".") and not message.endswith("..")
