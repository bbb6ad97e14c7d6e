"""Printing figures as JSON lines, percentiles, and a meter of the machine's other load.

One line per figure: ``{"bench", "metric", "value", "unit", ...context}``. A figure with a
target also carries ``target`` (with ``target_op`` "<=" or ">=") and ``met``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil


def emit(
    bench: str,
    metric: str,
    value: float | int | None,
    unit: str,
    *,
    target: float | None = None,
    target_op: str = "<=",
    **context: Any,
) -> None:
    """Print one figure as a JSON line (and flush, so a long run shows progress)."""
    line: dict[str, Any] = {"bench": bench, "metric": metric, "value": _round(value), "unit": unit}
    if target is not None:
        line["target"] = target
        line["target_op"] = target_op
        met = value is not None and (value <= target if target_op == "<=" else value >= target)
        line["met"] = met
    line.update({key: _round(item) for key, item in context.items()})
    print(json.dumps(line), flush=True)


def note(message: str) -> None:
    """Progress for the human watching; stderr, so stdout stays pure JSON lines."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _round(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 6)
    return value


def percentile(samples: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest), as in core.stats."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass
class LoadMeter:
    """CPU used on the machine by everything but this process tree, while a benchmark ran.

    ``other_cores`` is in cores (0.0 … ``nproc``): the machine is shared, and a figure taken
    while another process was busy should say so.
    """

    _start_wall: float = field(default_factory=time.monotonic)
    _start_busy: float = field(default_factory=lambda: _busy_seconds())
    _start_own: float = field(default_factory=lambda: _own_seconds())

    def context(self) -> dict[str, Any]:
        wall = time.monotonic() - self._start_wall
        busy = _busy_seconds() - self._start_busy
        own = _own_seconds() - self._start_own
        other = max(0.0, busy - own) / wall if wall > 0 else 0.0
        return {"other_load_cores": round(other, 2), "loadavg_1m": os.getloadavg()[0]}


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _own_seconds() -> float:
    """CPU seconds of this process and the children it waited for (the memory subprocesses)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
