"""The frozen app's entry point: exactly the ``voxtray`` command.

With no arguments it starts the tray app, with a command it runs that command, so one
executable serves the desktop (start menu, autostart) and the terminal.
"""

import sys

from voxtray.core.cli import main

if __name__ == "__main__":
    sys.exit(main())
