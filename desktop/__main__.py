"""``python -m voxtray.desktop``: start the tray app, as ``voxtray`` with no arguments does.

This is the command the start-at-login entry runs when VoxTray is not frozen
(``autostart.app_command()``); it goes through the command line's own start-up so a second
start shows the running app's drop window instead of starting another one.
"""

import sys

from voxtray.core.cli import main

if __name__ == "__main__":
    sys.exit(main([]))
