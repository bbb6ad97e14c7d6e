"""Notices for the user (errors, fallbacks, quota warnings), rate-limited.

A burst of failures must be one notice, not a stack of bubbles: notices that arrive within
``gather`` seconds of each other are shown as one ("… and 4 more"), and after a notice is
shown, the next one waits until ``window`` seconds have passed, collecting everything that
arrives meanwhile into that one notice.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal


class Level(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2


@dataclass(frozen=True, slots=True)
class Notice:
    title: str
    message: str
    level: Level


ShowNotice = Callable[[Notice], None]


class Notifier(QObject):
    """Collects notices and hands them to ``show`` at most once per ``window`` seconds."""

    shown = Signal(object)  # the Notice as displayed

    def __init__(
        self,
        show: ShowNotice,
        *,
        window: float = 5.0,
        gather: float = 0.25,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._show = show
        self._window = window
        self._gather = gather
        self._pending: list[Notice] = []
        self._last_shown = -float("inf")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self.history: list[Notice] = []
        """Every notice displayed, oldest first (the tests read it; it is small)."""

    def notify(self, title: str, message: str, level: Level = Level.ERROR) -> None:
        self._pending.append(Notice(title, message, level))
        if self._timer.isActive():
            return
        wait = max(self._gather, self._last_shown + self._window - time.monotonic())
        self._timer.start(round(wait * 1000))

    def flush(self) -> None:
        """Show what is pending now, as one notice."""
        self._timer.stop()
        if not self._pending:
            return
        first, extra = self._pending[0], len(self._pending) - 1
        level = max(notice.level for notice in self._pending)
        message = first.message
        if extra:
            message += f" (and {extra} more)"
        notice = Notice(first.title, message, level)
        self._pending.clear()
        self._last_shown = time.monotonic()
        self.history.append(notice)
        del self.history[:-100]
        self._show(notice)
        self.shown.emit(notice)

    def stop(self) -> None:
        self._timer.stop()
        self._pending.clear()
