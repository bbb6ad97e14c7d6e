"""Desktop tests: widgets offscreen, async tests on the Qt event loop (qasync).

The ``pytest_asyncio_loop_factories`` hook lives in this directory's conftest, so only the
tests below it run on the qasync loop (test-harness.md); the rest of the suite keeps
pytest-asyncio's default loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], Any]]:
    import qasync
    from PySide6.QtWidgets import QApplication

    def qt_loop() -> Any:
        app = QApplication.instance() or QApplication(["voxtray-tests"])
        return qasync.QEventLoop(app)

    return {"qasync": qt_loop}


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private config, state, cache, data and runtime directories for the app under test."""
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return tmp_path
