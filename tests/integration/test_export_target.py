"""Where an export goes is checked before a word is synthesized: a format that contradicts the
file's name, a folder that is not there, each said in one plain sentence (exit code 2)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from voxtray.core.errors import ErrorCategory
from voxtray.core.export import ExportOptions, ExportTargetError, export_narration
from voxtray.core.model import SpeakRequest, VoiceRef
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.settings import ElevenLabsSettings, Settings, VoiceSettings

from tests.harness.cli import isolated_env, run_voxtray

SETTINGS = Settings(
    voice=VoiceSettings(provider="tone", voice="440"),
    elevenlabs=ElevenLabsSettings(fallback_to_local=False),
)


def one_sentence(stderr: str) -> str:
    """The one line the CLI printed, without its ``voxtray:`` prefix."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("voxtray: "), stderr
    message = lines[0].removeprefix("voxtray: ")
    assert message.endswith(".") and not message.endswith(".."), message
    assert "Error opening" not in message and "System error" not in message, message
    return message


def test_mp3_asked_into_a_wav_name_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    result = run_voxtray(
        isolated_env(tmp_path), "export", "--provider", "tone", "--format", "mp3",
        "-o", str(out), "Some words.",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    message = one_sentence(result.stderr)
    assert "mp3" in message and "out.wav" in message, message
    assert not out.exists()


def test_a_missing_folder_is_named_before_anything_is_spoken(tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "out.wav"
    result = run_voxtray(
        isolated_env(tmp_path), "export", "--provider", "tone", "-o", str(out), "Some words."
    )
    assert result.returncode == 2, result.stderr
    assert one_sentence(result.stderr) == (
        f"Cannot export to out.wav: the folder {out.parent} does not exist."
    )
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("target", "split", "problem"),
    [
        ("out.wav", False, "The format mp3 does not match"),
        ("missing/out.mp3", False, "does not exist"),
        ("missing/book.mp3", True, "does not exist"),
        ("taken.mp3", False, "taken.mp3 is a folder"),
    ],
)
async def test_the_api_refuses_before_synthesis(
    tmp_path: Path, target: str, split: bool, problem: str
) -> None:
    (tmp_path / "taken.mp3").mkdir()
    tone = ToneProvider()
    registry = ProviderRegistry()
    registry.add(tone)
    with pytest.raises(ExportTargetError, match=problem) as failure:
        await export_narration(
            SpeakRequest(text="Some words."),
            ExportOptions(target=tmp_path / target, format="mp3", split_chapters=split),
            settings=SETTINGS,
            voice=VoiceRef("tone", "440"),
            providers=registry,
        )
    assert failure.value.category is ErrorCategory.INPUT
    assert tone.jobs_started == 0
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["taken.mp3"]
