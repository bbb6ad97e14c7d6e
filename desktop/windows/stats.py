"""The statistics window: the queue with a cancel button per item, and the engine's figures.

The window *pulls*: while it is visible a timer asks for a fresh :class:`StatsSnapshot` and the
queue a few times a second. Both calls are cheap reads on the event loop (the engine builds the
snapshot from counters it already keeps), so refreshing never waits for, or holds up,
playback. Hidden, the window asks for nothing.

Accessibility: every control and every figure has an accessible name; the figures are
selectable by keyboard, so they are reachable with Tab and readable by a screen reader; the tab
order follows the screen from top to bottom (the queue's cancel buttons first); Escape closes.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QPointF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QCloseEvent,
    QHideEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPen,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from voxtray.core.model import Priority, RequestId
from voxtray.core.narrator import QueuedItem
from voxtray.core.stats import StatsSnapshot

_log = logging.getLogger(__name__)

REFRESH_MS = 400
"""Refresh period while visible: comfortably more than twice a second."""

NO_VALUE = "—"


def seconds(value: float | None) -> str:
    """A duration for the eye: ``0.243 s``, ``1.50 s``, ``—`` for none."""
    if value is None or not math.isfinite(value):
        return NO_VALUE
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def reset_date(unix: float) -> str:
    """A reset time in the user's local time: ``2026-09-12 14:00``."""
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(unix))
    except (OverflowError, OSError, ValueError):
        return NO_VALUE


def whole(value: object) -> str:
    """A count with thousands separators, ``—`` when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NO_VALUE
    return f"{value:,.0f}"


class Sparkline(QWidget):
    """A small line chart of recent values (first-audio latencies), newest on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: tuple[float, ...] = ()
        self.setMinimumSize(160, 36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Recent times to first audio")
        self._describe()

    @property
    def values(self) -> tuple[float, ...]:
        return self._values

    def set_values(self, values: Sequence[float]) -> None:
        values = tuple(v for v in values if math.isfinite(v))
        if values != self._values:
            self._values = values
            self._describe()
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, 40)

    def _describe(self) -> None:
        if not self._values:
            text = "No time to first audio measured yet"
        else:
            text = (
                f"{len(self._values)} recent times to first audio, from "
                f"{seconds(min(self._values))} to {seconds(max(self._values))}, "
                f"latest {seconds(self._values[-1])}"
            )
        self.setAccessibleDescription(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        rect = self.rect().adjusted(2, 3, -2, -3)
        painter.setPen(QPen(palette.mid().color(), 1))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        if not self._values:
            painter.end()
            return
        top = max(self._values) or 1.0
        count = len(self._values)
        step = rect.width() / max(count - 1, 1)

        def point(index: int, value: float) -> QPointF:
            x = rect.left() + (index * step if count > 1 else rect.width() / 2)
            return QPointF(x, rect.bottom() - value / top * rect.height())

        points = [point(i, v) for i, v in enumerate(self._values)]
        painter.setPen(QPen(palette.highlight().color(), 1.5))
        if len(points) > 1:
            painter.drawPolyline(points)
        painter.setBrush(palette.highlight())
        painter.drawEllipse(points[-1], 2.5, 2.5)
        painter.end()


class _QueueRow(QWidget):
    """One queued request: what it is, its state, and a button to cancel it."""

    def __init__(self, item: QueuedItem, cancel: Callable[[RequestId], None]) -> None:
        super().__init__()
        self.request_id = item.request_id
        self._label = QLabel()
        self._label.setTextFormat(Qt.TextFormat.PlainText)
        self._label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._state = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: cancel(self.request_id))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._label)
        layout.addWidget(self._state)
        layout.addWidget(self.cancel_button)
        self.update_item(item)

    def update_item(self, item: QueuedItem) -> None:
        label = item.label or "(untitled)"
        state = "Playing" if item.playing else f"Waiting · {_priority_name(item.priority)}"
        self._label.setText(_shorten(label, 60))
        self._label.setToolTip(label)
        self._state.setText(state)
        self._label.setAccessibleName(f"Queued item: {label}")
        self._state.setAccessibleName(f"State of {label}: {state}")
        self.cancel_button.setAccessibleName(f"Cancel {label}")
        self.cancel_button.setToolTip(f"Cancel “{_shorten(label, 40)}”")


class StatsWindow(QWidget):
    """The statistics window; see the module docstring.

    ``snapshot`` and ``queue`` are called on every refresh; ``cancel`` when a cancel button is
    pressed. The current item's progress is the snapshot's (a bar that moves while nothing
    tells how long a document is until it has been read to its end).
    """

    def __init__(
        self,
        snapshot: Callable[[], StatsSnapshot],
        queue: Callable[[], list[QueuedItem]],
        cancel: Callable[[RequestId], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self._snapshot = snapshot
        self._queue = queue
        self._cancel = cancel
        self._rows: dict[RequestId, _QueueRow] = {}
        self._failed_once = False
        self.setWindowTitle("VoxTray statistics")
        self.setAccessibleName("VoxTray statistics")
        self._figures: dict[str, QLabel] = {}

        self.current_label = self._value("Now playing", "Nothing is playing")
        self.current_progress = QProgressBar()
        self.current_progress.setRange(0, 1000)
        self.current_progress.setTextVisible(True)
        self.current_progress.setAccessibleName("Progress of the current item")
        now_box = QGroupBox("Now playing")
        now_layout = QVBoxLayout(now_box)
        now_layout.addWidget(self.current_label)
        now_layout.addWidget(self.current_progress)

        self._queue_box = QGroupBox("Queue")
        self._queue_layout = QVBoxLayout(self._queue_box)
        self._queue_empty = QLabel("The queue is empty.")
        self._queue_empty.setAccessibleName("The queue is empty")
        self._queue_layout.addWidget(self._queue_empty)

        self.sparkline = Sparkline()
        latency_box, latency_form = self._form("Time to first audio")
        for key, title in (
            ("ttfa_last", "Last"),
            ("ttfa_p50", "Median (p50)"),
            ("ttfa_p95", "p95"),
        ):
            latency_form.addRow(title, self._figure(key, f"Time to first audio, {title}"))
        latency_form.addRow("Recent", self.sparkline)

        playback_box, playback_form = self._form("Playback")
        for key, title in (
            ("underruns", "Underruns"),
            ("gap_seconds", "Gaps"),
            ("characters", "Characters spoken"),
            ("segments", "Segments played"),
        ):
            playback_form.addRow(title, self._figure(key, title))

        requests_box, requests_form = self._form("Requests")
        for key, title in (
            ("total", "Total"),
            ("finished", "Finished"),
            ("failed", "Failed"),
            ("canceled", "Canceled"),
            ("retries", "Retries"),
            ("fallbacks", "Fallbacks"),
            ("fallback_reason", "Last fallback reason"),
        ):
            requests_form.addRow(title, self._figure(key, f"Requests, {title}"))

        cloud_box, cloud_form = self._form("Voices")
        for key, title in (
            ("providers", "Health"),
            ("rate_limited", "Rate limited (429)"),
            ("billed", "Characters billed"),
            ("cache_hits", "Cache hits"),
            ("quota", "Quota"),
        ):
            cloud_form.addRow(title, self._figure(key, f"Voices, {title}"))

        output_box, output_form = self._form("Output")
        for key, title in (("device", "Device"), ("rate", "Sample rate"), ("latency", "Latency")):
            output_form.addRow(title, self._figure(key, f"Output {title}"))

        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close the statistics window")
        self.close_button.clicked.connect(self.close)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Cancel), self, self.close)

        content = QWidget()
        columns = QHBoxLayout(content)
        left = QVBoxLayout()
        left.addWidget(now_box)
        left.addWidget(self._queue_box)
        left.addWidget(latency_box)
        left.addWidget(output_box)
        left.addStretch(1)
        right = QVBoxLayout()
        for box in (playback_box, requests_box, cloud_box):
            right.addWidget(box)
        right.addStretch(1)
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        outer.addLayout(buttons)
        self.resize(780, 620)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.refresh()

    # Public.

    def figure(self, key: str) -> str:
        """The text shown for a figure (for tests and for copying)."""
        return self._figures[key].text()

    def queue_rows(self) -> list[tuple[RequestId, QPushButton]]:
        """The queue as shown: each row's request and its cancel button, top to bottom."""
        return [(row.request_id, row.cancel_button) for row in self._ordered_rows()]

    def refresh(self) -> None:
        """Read a snapshot and the queue and show them."""
        try:
            snapshot = self._snapshot()
            items = self._queue()
        except Exception:
            if not self._failed_once:  # once: a broken source must not flood the log
                _log.exception("The statistics could not be read")
                self._failed_once = True
            return
        self._show_snapshot(snapshot, snapshot.current_progress)
        self._show_queue(items)

    # Qt events.

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        self.timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        super().closeEvent(event)

    # Building.

    def _form(self, title: str) -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        return box, form

    def _value(self, name: str, text: str) -> QLabel:
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setAccessibleName(name)
        label.setWordWrap(True)
        label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return label

    def _figure(self, key: str, name: str) -> QLabel:
        label = self._value(name, NO_VALUE)
        self._figures[key] = label
        return label

    # Showing.

    def _set(self, key: str, text: str) -> None:
        label = self._figures[key]
        if label.text() != text:
            label.setText(text)

    def _show_snapshot(self, snap: StatsSnapshot, fraction: float | None) -> None:
        playing = snap.current_label if snap.current_request is not None else None
        current = playing or ("Playing" if snap.current_request is not None else None)
        self.current_label.setText(current or "Nothing is playing")
        if current is None:
            self.current_progress.setRange(0, 1000)
            self.current_progress.setValue(0)
            self.current_progress.setFormat("")
        elif fraction is None:
            self.current_progress.setRange(0, 0)  # busy: playing, amount unknown
        else:
            self.current_progress.setRange(0, 1000)
            self.current_progress.setValue(round(min(max(fraction, 0.0), 1.0) * 1000))
            self.current_progress.setFormat(f"{min(max(fraction, 0.0), 1.0):.0%}")

        latency = snap.time_to_first_audio
        self._set("ttfa_last", seconds(latency.last))
        self._set("ttfa_p50", seconds(latency.p50))
        self._set("ttfa_p95", seconds(latency.p95))
        self.sparkline.set_values(snap.recent_first_audio)

        self._set("underruns", whole(snap.underruns))
        self._set("gap_seconds", seconds(snap.gap_seconds) if snap.gap_seconds else "0 s")
        self._set("characters", whole(snap.characters_spoken))
        self._set("segments", whole(snap.segments_played))

        self._set("total", whole(snap.total_requests))
        self._set("finished", whole(snap.successful_requests))
        self._set("failed", whole(snap.failed_requests))
        self._set("canceled", whole(snap.canceled_requests))
        self._set("retries", whole(snap.retries))
        self._set("fallbacks", whole(snap.fallbacks))
        self._set("fallback_reason", snap.last_fallback_reason or NO_VALUE)

        providers = snap.providers
        self._set("providers", _health(snap.provider_health))
        self._set("rate_limited", _total(providers, "rate_limited"))
        self._set("billed", _total(providers, "characters_billed"))
        looked_up = snap.cache_hits + snap.cache_misses
        self._set(
            "cache_hits",
            f"{whole(snap.cache_hits)} of {whole(looked_up)}" if looked_up else NO_VALUE,
        )
        self._set("quota", _quota(providers))

        output = snap.output
        self._set("device", (output.device or "default") if output else NO_VALUE)
        self._set("rate", f"{output.sample_rate:,} Hz" if output else NO_VALUE)
        self._set("latency", seconds(output.latency) if output else NO_VALUE)

    def _show_queue(self, items: list[QueuedItem]) -> None:
        wanted = {item.request_id for item in items}
        changed = False
        focused = self.focusWidget()
        for request_id in [rid for rid in self._rows if rid not in wanted]:
            row = self._rows.pop(request_id)
            if focused is row.cancel_button:
                self.close_button.setFocus()  # never leave the keyboard focus on a removed row
            self._queue_layout.removeWidget(row)
            row.deleteLater()
            changed = True
        for position, item in enumerate(items):
            row = self._rows.get(item.request_id)
            if row is None:
                row = self._rows[item.request_id] = _QueueRow(item, self._cancel)
                changed = True
            else:
                row.update_item(item)
            if self._queue_layout.indexOf(row) != position + 1:
                self._queue_layout.insertWidget(position + 1, row)  # after the "empty" label
                changed = True
        self._queue_empty.setVisible(not items)
        self._queue_box.setTitle(f"Queue ({len(items)})" if items else "Queue")
        if changed:
            self._order_tabs()

    def _ordered_rows(self) -> list[_QueueRow]:
        rows = list(self._rows.values())
        return sorted(rows, key=self._queue_layout.indexOf)

    def _order_tabs(self) -> None:
        chain: list[QWidget] = [self.current_label]
        chain += [row.cancel_button for row in self._ordered_rows()]
        # Reading order: the left column (latency, output), then the right one.
        left = ("ttfa_last", "ttfa_p50", "ttfa_p95", "device", "rate", "latency")
        chain += [self._figures[key] for key in left]
        chain += [label for key, label in self._figures.items() if key not in left]
        chain.append(self.close_button)
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)


def _priority_name(priority: Priority) -> str:
    return {Priority.HIGH: "high priority", Priority.NORMAL: "normal", Priority.LOW: "low"}.get(
        priority, str(priority)
    )


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _number(value: Any) -> float | None:
    """A figure as a number: a count, or the sum of a table of counts (429s by kind)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        parts = [_number(v) for v in value.values()]
        numbers = [p for p in parts if p is not None]
        return sum(numbers) if numbers else 0.0
    return None


def _total(providers: Mapping[str, Mapping[str, Any]], key: str) -> str:
    """The sum of a figure over the providers that report it; ``—`` when none does."""
    found = [n for figures in providers.values() if (n := _number(figures.get(key))) is not None]
    return whole(sum(found)) if found else NO_VALUE


def _health(health: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per voice: ``piper: working``, ``elevenlabs: failing, next try in 42 s (The
    key was refused.)``."""
    lines = []
    for name, figures in sorted(health.items()):
        text = f"{name}: {figures.get('state', NO_VALUE)}"
        retry_in = figures.get("retry_in")
        if isinstance(retry_in, int | float) and not isinstance(retry_in, bool):
            text += f", next try in {retry_in:.0f} s"
        if figures.get("last_error"):
            text += f" (last error: {figures['last_error']})"
        lines.append(text)
    return "\n".join(lines) or NO_VALUE


def _quota(providers: Mapping[str, Mapping[str, Any]]) -> str:
    """Quota as the providers report it: ``used / limit characters, resets <date>``, or their
    own text."""
    shown = []
    for name, figures in sorted(providers.items()):
        quota = figures.get("quota")
        if quota is None:
            continue
        if isinstance(quota, Mapping):
            used, limit = quota.get("used"), quota.get("limit")
            text = f"{whole(used)} / {whole(limit)} characters"
            resets = quota.get("resets_at")
            if isinstance(resets, int | float) and not isinstance(resets, bool):
                text += f", resets {reset_date(resets)}"
        else:
            text = str(quota)
        shown.append(f"{name}: {text}" if len(providers) > 1 else text)
    return "; ".join(shown) or NO_VALUE
