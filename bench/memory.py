"""Peak memory exporting 50 KB vs 50 MB of text: the pipeline must not grow with the file.

Each export runs in a fresh process (``bench.memory_child``) through the whole pipeline
(reader, segmenter, scheduler, worker) into a NullSink, and reports its own peak RSS.

Piper cannot speak 50 MB in reasonable time (days), so two measurements:

* ``tone``: the whole file, start to end, with the tone provider (instant audio, 10 µs of
  audio per character), so every byte goes through the reader and the segmenter;
* ``piper``: the real voice on each file for the same fixed budget, then stopped: the voice's
  own memory (model, onnxruntime arenas) plus the pipeline's, on a small and a huge source.

``--quick`` uses 5 MB instead of 50 MB and a 15 s Piper budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .prose import write_prose
from .report import LoadMeter, emit, note

NAME = "memory"
TARGET_GROWTH_MB = 30.0
SMALL = 50_000
LARGE = 50_000_000
QUICK_LARGE = 5_000_000


def run(quick: bool) -> None:
    meter = LoadMeter()
    large = QUICK_LARGE if quick else LARGE
    budget = 15.0 if quick else 60.0
    with tempfile.TemporaryDirectory(prefix="voxtray-bench-") as tmp:
        files = {
            "small": write_prose(Path(tmp) / "small.txt", SMALL),
            "large": write_prose(Path(tmp) / "large.txt", large, seed=11),
        }
        for provider, limit in (("tone", None), ("piper", budget)):
            results = {size: _child(path, provider, limit) for size, path in files.items()}
            _report(provider, results, limit, meter)


def _child(path: Path, provider: str, budget: float | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory_child", str(path), "--provider", provider]
    if budget is not None:
        command += ["--budget", str(budget)]
    note(f"memory: {provider} on {path.stat().st_size:,} bytes")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _report(
    provider: str,
    results: dict[str, dict[str, Any]],
    budget: float | None,
    meter: LoadMeter,
) -> None:
    method = (
        "whole file through the pipeline, tone provider, NullSink"
        if budget is None
        else f"real Piper voice, NullSink, stopped after a {budget:.0f} s budget"
    )
    for size, result in results.items():
        context = {key: value for key, value in result.items() if key != "peak_rss_kib"}
        emit(
            NAME,
            f"{provider}_{size}_peak_rss",
            result["peak_rss_kib"] / 1024,
            "MiB",
            method=method,
            **context,
        )
    growth = (results["large"]["peak_rss_kib"] - results["small"]["peak_rss_kib"]) / 1024
    emit(
        NAME,
        f"{provider}_peak_rss_growth",
        growth,
        "MiB",
        target=TARGET_GROWTH_MB,
        method=method,
        small_bytes=results["small"]["file_bytes"],
        large_bytes=results["large"]["file_bytes"],
        large_completed=results["large"]["completed"],
        **meter.context(),
    )
