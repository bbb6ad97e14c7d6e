"""Whether this session can show windows at all, asked before Qt is loaded.

Over SSH or in CI there is no display, and Qt's own answer is an abort with a message about
"xcb" plugins. This module imports no Qt, so the ``voxtray`` command can ask first and point
the user to the command line instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

__all__ = ["display_problem"]


def display_problem(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why no window can be shown here, as a sentence; ``None`` when a display is there."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform in ("win32", "darwin") or env.get("QT_QPA_PLATFORM"):
        return None  # a desktop session, or a platform chosen on purpose (offscreen, vnc…)
    if env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY")
    if not display:
        return "There is no graphical display here (neither DISPLAY nor WAYLAND_DISPLAY is set)."
    try:
        from Xlib import display as xdisplay
        from Xlib import error as xerror
    except ImportError:  # python-xlib is a Linux dependency; elsewhere Qt will tell
        return None
    try:
        xdisplay.Display(display).close()
    except (xerror.DisplayError, OSError, xerror.XError) as exc:
        return f"The X display {display} cannot be reached ({exc})."
    return None
