"""First audio after opening a huge document: 50 MB of text vs 5 KB, a 10 MB EPUB vs a small one.

Speech must start as soon as the first phrase is synthesized, whatever comes after it: the
reader streams, the segmenter keeps a window of a few KiB, the resume key reads a bounded part
of the file. So the time to first audio of a 50 MB file should equal that of a 5 KB file with
the same opening (ratio ≈ 1). Both files of a pair start with the same text (same seed), so the
first phrase, and its synthesis time, are the same.

The pairs: 5 KB and 50 MB of plain text (``bench.prose``); a one-chapter EPUB of 5 KB of text
and one of 10 MB of text in 200 chapters with 9 MB of pictures besides, so that the file too is
about 10 MB (``bench.epub_export.build_book``).

Two ways, both with the real Piper voice and the real Player into a private PulseAudio null sink
(``tests/harness/pulse.py``), the files of a pair in turns, the order flipping every round:

* ``cli``: ``voxtray speak --file FILE`` as a process of its own (private XDG folders, a fresh
  state folder each run so nothing resumes, no tray app to hand over to): Popen → the first
  sample above −50 dBFS recorded from the sink's monitor (good to about ±10 ms), then SIGINT.
  This includes starting Python and loading the voice, the same for both files.
* ``engine``: a warm narrator in this process (``build_narrator``, as ``bench.ttfa``);
  ``speak(SpeakRequest(source=FILE, from_start=True))`` → the ``FirstAudio`` event's latency,
  then ``stop()``. ``from_start`` because this narrator keeps its resume positions in memory;
  the resume key's cost (``document_key``) is timed on its own for each file.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from voxtray.core.model import SpeakRequest
from voxtray.core.resume import document_key
from voxtray.core.settings import Settings

from tests.harness.cli import isolated_env
from tests.harness.pulse import PulseServer, private_pulse

from .epub_export import build_book
from .prose import write_prose
from .report import LoadMeter, emit, note, percentile
from .rig import FirstAudioWatch, player_for, running_narrator

NAME = "first_audio_large"
TARGET_RATIO = 1.2
"""p50 large / p50 small: "≈ 1", with room for a shared machine's noise."""
SMALL_TEXT = 5_000
LARGE_TEXT = 50_000_000
QUICK_LARGE_TEXT = 5_000_000
SMALL_EPUB = 5_000
LARGE_EPUB = 10_000_000
EPUB_CHAPTER_CHARS = 50_000
LARGE_EPUB_PICTURES = 9_000_000
"""Picture bytes in the large EPUB, so that the file, not only its text, is about 10 MB."""
SEED = 7
LEVEL = 10 ** (-50 / 20)
"""−50 dBFS: the first recorded sample above it is the first sound."""
CLI_TIMEOUT = 60.0


def _files(tmp: Path, quick: bool) -> dict[str, dict[str, Path]]:
    """Each pair shares its opening text (same seed)."""
    large_text = QUICK_LARGE_TEXT if quick else LARGE_TEXT
    started = time.perf_counter()
    pairs = {
        "txt": {
            "small": write_prose(tmp / "small.txt", SMALL_TEXT, seed=SEED),
            "large": write_prose(tmp / "large.txt", large_text, seed=SEED),
        },
        "epub": {
            "small": build_book(tmp / "small.epub", SMALL_EPUB, chapters=1, seed=SEED),
            "large": build_book(
                tmp / "large.epub",
                LARGE_EPUB,
                chapters=LARGE_EPUB // EPUB_CHAPTER_CHARS,
                seed=SEED,
                image_bytes=LARGE_EPUB_PICTURES,
            ),
        },
    }
    note(f"first_audio_large: files written in {time.perf_counter() - started:.0f} s")
    return pairs


def run(quick: bool) -> None:
    cli_runs = 3 if quick else 8
    engine_runs = 3 if quick else 10
    with tempfile.TemporaryDirectory(prefix="voxtray-bench-") as tmp_name:
        tmp = Path(tmp_name)
        pairs = _files(tmp, quick)
        with private_pulse() as server:
            keys = {
                kind: {size: _key_seconds(path) for size, path in pair.items()}
                for kind, pair in pairs.items()
            }
            meter = LoadMeter()
            engine = asyncio.run(_engine(pairs, engine_runs))
            _report("engine", pairs, engine, meter, keys=keys)
            meter = LoadMeter()
            cli = _cli(server, pairs, tmp, cli_runs)
            _report("cli", pairs, cli, meter)


def _key_seconds(path: Path) -> float:
    """The resume key's cost for ``path`` (best of 5: the file is in the page cache)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        document_key(path)
        best = min(best, time.perf_counter() - started)
    return best


def _in_turn(pair: dict[str, Path], index: int) -> list[tuple[str, Path]]:
    """Small first in odd rounds, large first in even ones: neither always follows the other
    kind's stopped request (the previous file's teardown costs whoever comes next)."""
    ordered = list(pair.items())
    return ordered if index % 2 else ordered[::-1]


Results = dict[str, dict[str, list[float]]]
"""kind → size → first-audio seconds."""


async def _engine(pairs: dict[str, dict[str, Path]], runs: int) -> Results:
    settings = Settings()
    results: Results = {kind: {"small": [], "large": []} for kind in pairs}
    async with running_narrator(player_for(settings), settings=settings) as narrator:
        watch = FirstAudioWatch(narrator)
        for index in range(runs + 1):  # run 0 warms onnxruntime and the idle sink up
            for kind, pair in pairs.items():
                for size, path in _in_turn(pair, index):
                    handle = narrator.speak(SpeakRequest(source=path, from_start=True))
                    heard = await watch.latency(handle.request_id)
                    narrator.stop()
                    await handle.wait()
                    await asyncio.sleep(0.3)  # the sink goes quiet between runs
                    if index:
                        results[kind][size].append(heard)
                        note(
                            f"first_audio_large engine {kind} {size} {index}/{runs}: {heard:.3f} s"
                        )
    return results


def _cli(server: PulseServer, pairs: dict[str, dict[str, Path]], tmp: Path, runs: int) -> Results:
    results: Results = {kind: {"small": [], "large": []} for kind in pairs}
    for index in range(runs):
        for kind, pair in pairs.items():
            for size, path in _in_turn(pair, index):
                home = tmp / f"cli-{kind}-{size}-{index}"
                home.mkdir()
                env = {**isolated_env(home), **server.client_env}
                heard = _cli_once(server, env, path)
                results[kind][size].append(heard)
                note(f"first_audio_large cli {kind} {size} {index + 1}/{runs}: {heard:.3f} s")
    return results


def _cli_once(server: PulseServer, env: dict[str, str], path: Path) -> float:
    """Popen of ``voxtray speak --file PATH`` → its first sound at the sink."""
    command = [sys.executable, "-m", "voxtray.core.cli", "speak", "--file", str(path)]
    with server.recorder() as recorder:
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            heard = recorder.wait_for_sound(level=LEVEL, timeout=CLI_TIMEOUT)
            time.sleep(0.2)  # a little of the speech, so the recording surely holds its start
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                _, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
    if not heard:
        raise RuntimeError(f"no sound within {CLI_TIMEOUT:.0f} s: {stderr.decode()[-500:]}")
    recording = recorder.result
    loud = np.flatnonzero(np.abs(recording.samples) > LEVEL)
    return recording.time_of(int(loud[0])) - started


def _report(
    how: str,
    pairs: dict[str, dict[str, Path]],
    results: Results,
    meter: LoadMeter,
    *,
    keys: dict[str, dict[str, float]] | None = None,
) -> None:
    context: dict[str, Any] = {"runs": len(results["txt"]["small"]), **meter.context()}
    for kind, pair in pairs.items():
        small, large = results[kind]["small"], results[kind]["large"]
        sizes = {f"{size}_bytes": os.path.getsize(path) for size, path in pair.items()}
        for size, samples in results[kind].items():
            extra = {"resume_key_s": keys[kind][size]} if keys else {}
            emit(
                NAME,
                f"{how}_{kind}_{size}_p50",
                percentile(samples, 50),
                "s",
                p95=percentile(samples, 95),
                samples=samples,
                **extra,
                **sizes,
                **context,
            )
        emit(
            NAME,
            f"{how}_{kind}_ratio_p50_large_over_small",
            percentile(large, 50) / percentile(small, 50),
            "x",
            target=TARGET_RATIO,
            **sizes,
            **context,
        )
