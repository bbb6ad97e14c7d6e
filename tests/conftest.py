"""Shared fixtures. Sound: a private PulseAudio server for the whole session (``pulse``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.harness.pulse import HarnessError, PulseServer

pytest_plugins = ["tests.fakes.elevenlabs.fixture"]


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseServer]:
    """A private PulseAudio daemon whose null sink is this process's default output.

    PortAudio only enumerates devices when it is initialised, so after pointing libpulse at the
    private server (``PULSE_SERVER``), PortAudio is re-initialised.
    """
    try:
        server = PulseServer.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    client_env = {
        "PULSE_SERVER": server.server,
        "PULSE_COOKIE": str(server.root / "cookie"),
        "PULSE_CLIENTCONFIG": str(server.client_config),
    }
    saved = {key: os.environ.get(key) for key in client_env}
    os.environ.update(client_env)
    from voxtray.core.audio.player import rescan_devices

    try:
        rescan_devices()
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


# Keyring: a private Secret Service on its own D-Bus bus (tests/harness/keyring.py).
from tests.harness.keyring import secret_service, secret_service_session  # noqa: E402, F401
