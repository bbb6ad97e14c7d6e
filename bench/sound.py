"""A private PulseAudio server (the test harness's) as this process's default output.

PortAudio enumerates devices once, when it is initialised, so after pointing libpulse at the
private server the device list is rebuilt with ``rescan_devices()``. The environment is
restored and the server (daemon and latency keeper) stopped by PID on the way out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from voxtray.core.audio.player import rescan_devices

from tests.harness.pulse import PulseServer


@contextmanager
def private_pulse() -> Iterator[PulseServer]:
    server = PulseServer.start()
    client_env = {
        "PULSE_SERVER": server.server,
        "PULSE_COOKIE": str(server.root / "cookie"),
        "PULSE_CLIENTCONFIG": str(server.client_config),
    }
    saved = {key: os.environ.get(key) for key in client_env}
    os.environ.update(client_env)
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
