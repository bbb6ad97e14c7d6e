"""``python -m tests.fakes.elevenlabs --port 0``: serve the fake until SIGINT or SIGTERM.

The first line on stdout is the base URL (``http://127.0.0.1:PORT``); WebSockets use the same port.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from .catalog import TIER_CONCURRENCY
from .server import FakeElevenLabs, KeySpec


def _key(spec: str) -> KeySpec:
    key, _, rest = spec.partition(":")
    tier, _, limit = rest.partition(":")
    tier = tier or "free"
    if not key:
        raise argparse.ArgumentTypeError("empty key")
    if tier not in TIER_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"unknown tier {tier!r}")
    try:
        return key, tier, int(limit) if limit else 10_000
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad character limit {limit!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.elevenlabs", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--keys",
        type=_key,
        action="append",
        metavar="KEY[:TIER[:CHARACTER_LIMIT]]",
        help='valid key (repeatable); default: one key "test-key", tier free',
    )
    parser.add_argument("--mode", choices=("speech", "tone"), default="speech")
    parser.add_argument("--concurrency", type=int, default=None, help="override every tier limit")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    fake = FakeElevenLabs(
        host=args.host,
        port=args.port,
        mode=args.mode,
        keys=args.keys or (("test-key", "free", 10_000),),
        concurrency=args.concurrency,
    )
    with fake:
        print(fake.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
