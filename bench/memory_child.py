"""One export in a fresh process, for the memory benchmark: prints one JSON object.

``python -m bench.memory_child FILE --provider tone|piper [--budget SECONDS]``. The whole
pipeline runs (reader, segmenter, scheduler, worker) into a NullSink; with a budget the request
is stopped when it runs out. Peak RSS is this process's high-water RSS (``VmHWM``); the
baseline is the RSS once the engine is started and the voice loaded, before ``speak()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from voxtray.core.audio.sinks import NullSink
from voxtray.core.engine import default_providers
from voxtray.core.model import RequestFinished, SegmentAudible, SpeakRequest, VoiceRef
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import Settings

from .rig import running_narrator

TONE_SECONDS_PER_CHAR = 1e-5
"""Tone audio per character: 50 MB of text becomes ~8 minutes of audio, not 23 days."""


async def _export(path: Path, provider: str, budget: float | None) -> dict[str, Any]:
    settings = Settings()
    registry = default_providers(settings)
    if provider == "tone":
        registry.add(ToneProvider(seconds_per_char=TONE_SECONDS_PER_CHAR, min_seconds=0.0005))
    voice = VoiceRef("tone", "440") if provider == "tone" else VoiceRef("piper")
    sink = NullSink(sample_rate=22050)
    progress = {"segments": 0, "chars": 0}
    size = path.stat().st_size  # noqa: ASYNC240 - once, before the loop has anything to do

    def seen(event: object) -> None:
        if isinstance(event, SegmentAudible):
            progress["segments"] += 1
            progress["chars"] = event.end

    async with running_narrator(sink, settings=settings, providers=registry, voice=voice) as n:
        n.add_listener(seen)
        baseline = psutil.Process().memory_info().rss
        started = time.monotonic()
        handle = n.speak(SpeakRequest(source=path))
        try:
            async with asyncio.timeout(budget):
                outcome = await handle.wait()
        except TimeoutError:
            n.stop()
            outcome = await handle.wait()
        wall = time.monotonic() - started
        counters = sink.counters()
    return {
        "provider": provider,
        "file_bytes": size,
        "completed": isinstance(outcome, RequestFinished),
        "outcome": type(outcome).__name__,
        "wall_s": wall,
        "segments": progress["segments"],
        "chars_reached": progress["chars"],
        "audio_s": counters.frames_played / counters.sample_rate,
        "baseline_rss_kib": baseline // 1024,
        "peak_rss_kib": peak_rss_kib(),
    }


def peak_rss_kib() -> int:
    """This process's peak resident set (``VmHWM``), in KiB.

    Not ``getrusage().ru_maxrss``: Linux carries that over exec from the forked parent, so a
    child of a big benchmark process would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_child")
    parser.add_argument("file", type=Path)
    parser.add_argument("--provider", choices=("tone", "piper"), required=True)
    parser.add_argument("--budget", type=float, default=None, help="stop after SECONDS")
    args = parser.parse_args(argv)
    result = asyncio.run(_export(args.file, args.provider, args.budget))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
