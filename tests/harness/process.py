"""What every test harness needs to run helper processes it owns (daemons, buses, servers).

Each harness starts its processes with ``Popen`` so it has their PIDs and stops them by PID at
teardown; :func:`die_with_parent` covers a test run that is killed outright, so no daemon
outlives it.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
from collections.abc import Iterable

_PR_SET_PDEATHSIG = 1
# Looked up once, at import: the child runs between fork and exec, where loading a library could
# deadlock on a lock another thread (the PortAudio callback's) held at the fork.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent() -> None:
    """``preexec_fn`` for helper processes: SIGTERM when the test process dies, even by SIGKILL."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def missing_binaries(names: Iterable[str]) -> list[str]:
    """The programs among ``names`` that are not installed (``make test`` installs them)."""
    return [name for name in names if shutil.which(name) is None]


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
"""A session bus of our own: no ``<servicedir>``, so it never activates a service we don't own."""
