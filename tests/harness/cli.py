"""Running ``voxtray`` as a user would: a real process in an environment of its own.

Every folder the app reads or writes (config, state, cache, data, runtime) is private to the
test, so no test sees another's settings or keys and none reaches a tray app the developer
happens to be running.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from voxtray.core.model import Segment
from voxtray.core.orchestrator.playback import Pauses
from voxtray.core.settings import VoiceSettings
from voxtray.core.text.segment import segment_text

TONE_SECONDS_PER_CHAR = 0.04
"""The tone voice's default: a segment lasts this long per character."""
TONE_MIN_SECONDS = 0.1
"""Its shortest tone (a segment of one or two characters)."""
TONE_MAX_CHARS = 400
"""Its segment limit."""


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment with private XDG folders and no ElevenLabs key."""
    env = dict(os.environ)
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        folder = tmp_path / name.lower()
        folder.mkdir(exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(folder)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env.pop("ELEVENLABS_API_KEY", None)
    return env


def run_voxtray(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``voxtray ARGS`` to completion; whatever it says, it never prints a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "voxtray.core.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def tone_timeline(text: str) -> list[tuple[Segment, float, float]]:
    """Each segment of ``text`` with where the tone voice starts it in an export and how long
    it speaks it: the default settings' pauses come between segments (none after the last)."""
    pauses = Pauses(VoiceSettings().sentence_pause, VoiceSettings().paragraph_pause)
    timeline = []
    at = 0.0
    for segment in segment_text([text], max_chars=TONE_MAX_CHARS):
        if timeline:
            at += pauses.after(timeline[-1][0].kind)
        length = max(TONE_MIN_SECONDS, len(segment.text.strip()) * TONE_SECONDS_PER_CHAR)
        timeline.append((segment, at, length))
        at += length
    return timeline


def tone_seconds(text: str) -> float:
    """How long the tone voice's export of ``text`` lasts, pauses included."""
    _, start, length = tone_timeline(text)[-1]
    return start + length
