"""pypdf's log records stay inside the reading: a user hears one plain sentence, the application's
log never shows "EOF marker not found" as if VoxTray had said it."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from voxtray.core.errors import DamagedDocumentError
from voxtray.core.text.readers import open_document

from tests.harness.documents import REPORT_TEXT, build_pdf


def _pypdf_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name.startswith("pypdf")]


def _wrong_startxref(path: Path) -> Path:
    """A PDF whose startxref points a few bytes off: pypdf rebuilds the table and says so."""
    data = path.read_bytes()
    moved = re.sub(rb"startxref\s+(\d+)", lambda m: b"startxref\n%d" % (int(m[1]) + 7), data)
    path.write_bytes(moved)
    return path


def test_a_repaired_pdf_is_read_with_one_plain_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _wrong_startxref(build_pdf(tmp_path / "report.pdf"))
    warnings: list[str] = []
    with caplog.at_level(logging.DEBUG):
        text = "".join(open_document(path, on_warning=warnings.append))
    assert text == REPORT_TEXT
    assert warnings == [
        "report.pdf is damaged in places; VoxTray reads what it can of it, "
        "so some text may be missing."
    ]
    assert _pypdf_records(caplog) == []


def test_a_truncated_pdf_is_refused_without_pypdf_noise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = build_pdf(tmp_path / "whole.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(whole[: len(whole) - 10])  # "EOF marker not found"
    warnings: list[str] = []
    with caplog.at_level(logging.DEBUG), pytest.raises(DamagedDocumentError):
        open_document(path, on_warning=warnings.append)
    assert _pypdf_records(caplog) == []
    assert warnings == []  # the error says it all


def test_pypdf_logs_as_before_outside_a_reading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The capture is scoped: no handler left behind, propagation restored, even mid-stream."""
    pypdf_log = logging.getLogger("pypdf")
    handlers, propagate = list(pypdf_log.handlers), pypdf_log.propagate
    path = _wrong_startxref(build_pdf(tmp_path / "report.pdf"))
    with caplog.at_level(logging.WARNING), open_document(path) as stream:
        next(stream)
        logging.getLogger("pypdf._reader").warning("someone else's pypdf")
        "".join(stream)
    assert _pypdf_records(caplog) == ["someone else's pypdf"]
    assert (pypdf_log.handlers, pypdf_log.propagate) == (handlers, propagate)


def test_a_clean_pdf_gives_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    warnings: list[str] = []
    with caplog.at_level(logging.DEBUG):
        "".join(open_document(build_pdf(tmp_path / "ok.pdf"), on_warning=warnings.append))
    assert warnings == []
    assert _pypdf_records(caplog) == []
