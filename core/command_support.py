"""What every ``voxtray`` subcommand module shares: one error type and one way to report it.

A subcommand either succeeds or prints one plain sentence to stderr and returns an exit code:
2 when the user's input or command line was wrong, 1 when it could not be done. Never a
traceback: the details are in the log with ``-v``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .errors import ErrorCategory, SettingsError, VoxTrayError

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A failure with its exit code (2: the input was wrong; 1: it could not be done)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def guarded(handler: Handler) -> Handler:
    """``handler``, with every expected failure turned into a message and an exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CommandError as error:
            print(f"voxtray: {error}", file=sys.stderr)
            return error.code
        except SettingsError as error:  # a bad rule or settings file: the user's input
            print(f"voxtray: {error}", file=sys.stderr)
            return 2
        except VoxTrayError as error:
            print(f"voxtray: {error}", file=sys.stderr)
            return 2 if error.category is ErrorCategory.INPUT else 1

    return run
