"""Pytest fixtures: one fake server per session, reset around every test so no state leaks.

``fake_elevenlabs`` yields a :class:`FakeElevenLabs` with one key, ``"test-key"`` (tier free,
10,000 characters), speech mode, no faults and the legacy error shape. Change any of it in the test;
the next test starts fresh.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeElevenLabs


@pytest.fixture(scope="session")
def fake_elevenlabs_server() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs() as fake:
        yield fake


@pytest.fixture
def fake_elevenlabs(fake_elevenlabs_server: FakeElevenLabs) -> Iterator[FakeElevenLabs]:
    fake_elevenlabs_server.reset()
    try:
        yield fake_elevenlabs_server
    finally:
        fake_elevenlabs_server.reset()
