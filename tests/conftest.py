"""Shared fixtures. Sound: a private PulseAudio server for the whole session (``pulse``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.pulse import HarnessError, PulseServer, private_pulse

pytest_plugins = ["tests.fakes.elevenlabs.fixture"]


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseServer]:
    """A private PulseAudio daemon whose null sink is this process's default output."""
    try:
        with private_pulse() as server:
            yield server
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


# Keyring: a private Secret Service on its own D-Bus bus (tests/harness/keyring.py).
from tests.harness.keyring import secret_service, secret_service_session  # noqa: E402, F401
