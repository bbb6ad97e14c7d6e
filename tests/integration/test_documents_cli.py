"""Documents through the ``voxtray`` command: a real process reading real EPUB and PDF files."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile
from voxtray.core.text.readers import open_document

from tests.harness.cli import isolated_env, run_voxtray, tone_seconds
from tests.harness.documents import (
    BOOK_TEXT,
    REPORT_TEXT,
    build_epub,
    build_pdf,
    build_scanned_pdf,
)


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


voxtray = run_voxtray


@pytest.mark.parametrize(
    ("name", "text"), [("book.epub", BOOK_TEXT), ("paper.pdf", REPORT_TEXT)], ids=["epub", "pdf"]
)
def test_export_a_document_with_the_tone_voice(
    home: dict[str, str], tmp_path: Path, name: str, text: str
) -> None:
    source = (build_epub if name.endswith(".epub") else build_pdf)(tmp_path / name)
    with open_document(source) as stream:
        assert "".join(stream) == text  # what the voice should have spoken, and nothing else
    target = tmp_path / "out.wav"
    result = voxtray(home, "export", "--provider", "tone", "--file", str(source), "-o", str(target))
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(target)
    assert len(audio) / rate == pytest.approx(tone_seconds(text), rel=0.02)


def test_a_scanned_pdf_is_refused_before_the_sound_card_opens(
    home: dict[str, str], tmp_path: Path
) -> None:
    source = build_scanned_pdf(tmp_path / "scan.pdf")
    env = dict(home, PULSE_SERVER="unix:/nonexistent/voxtray-test/native")  # no sound at all
    result = voxtray(env, "speak", "--no-instance", "--provider", "tone", "--file", str(source))
    assert result.returncode == 2
    assert "scan.pdf has no text layer" in result.stderr


def test_an_encrypted_pdf_is_refused_by_name(home: dict[str, str], tmp_path: Path) -> None:
    source = build_pdf(tmp_path / "report.pdf", encrypt="user-secret")
    result = voxtray(home, "export", "--provider", "tone", "--file", str(source), "-o", "x.wav")
    assert result.returncode == 2
    assert "report.pdf is encrypted: VoxTray cannot read protected PDFs." in result.stderr
