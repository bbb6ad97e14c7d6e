"""``python -m bench [--quick] [--only NAME]``: run the benchmarks one after another."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from .report import note

BENCHMARKS = (
    "ttfa",
    "narration",
    "stop",
    "memory",
    "export_speed",
    "cloud",
    "first_audio_large",
    "epub_export",
    "tray",
)
"""Module names, in running order (the cheap, short ones first)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run of each")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, metavar="NAME", help="run only NAME"
    )
    args = parser.parse_args(argv)
    failed = []
    for name in args.only or BENCHMARKS:
        note(f"{name}: starting{' (quick)' if args.quick else ''}")
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        try:
            module.run(args.quick)
        except Exception as exc:  # report it and go on with the next benchmark
            note(f"{name}: FAILED: {exc!r}")
            failed.append(name)
            continue
        note(f"{name}: done in {time.monotonic() - started:.0f} s")
    if failed:
        note(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
