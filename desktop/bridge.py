"""The one place where the engine's events become Qt signals.

The narrator calls its listeners on the event loop, which in the tray app is Qt's own (qasync),
so a listener may emit signals directly: no thread is crossed and no task is created. Windows
never listen to the narrator themselves; they connect to these signals, or pull a stats
snapshot on a timer.

Besides translating events, the bridge keeps the one piece of state the tray icon shows:
:class:`TrayState` (idle, speaking, paused, error). Pausing is a command, not an event, so
pause and resume go through :meth:`NarratorBridge.pause` / :meth:`~NarratorBridge.resume`
here, and the state follows.

The quota is not an event either: providers report it in their counters. The bridge looks at
them when a request ends (and every few seconds while one plays), and says once, through
:attr:`NarratorBridge.quotaLow`, when a provider has used :data:`QUOTA_WARNING` of its plan; it
says it again only after the usage fell back under the mark (a new period began).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject, Signal
from voxtray.core.model import (
    ChapterFound,
    Event,
    FirstAudio,
    OutputDeviceChanged,
    ProviderFellBack,
    Repositioned,
    RequestCanceled,
    RequestFailed,
    RequestFinished,
    RequestQueued,
    RequestStarted,
    RequestWarning,
    SegmentAudible,
    SpeechProgress,
    TextRead,
)
from voxtray.core.narrator import Narrator

QUOTA_WARNING = 0.9
"""Share of a plan's characters whose use is worth a warning."""
QUOTA_CHECK_SECONDS = 5.0
"""While a request plays, the quota is looked at no more often than this."""


class TrayState(enum.Enum):
    IDLE = "idle"
    SPEAKING = "speaking"
    PAUSED = "paused"
    ERROR = "error"


class NarratorBridge(QObject):
    """Signals for everything the narrator tells; ``state`` for the tray icon.

    Request ids travel as ``int`` (Qt signals know no ``NewType``).
    """

    requestQueued = Signal(int, str)  # id, label
    started = Signal(int, str)  # id, voice ("provider:voice")
    firstAudio = Signal(int, float)  # id, seconds from speak() to the first sample heard
    progress = Signal(int, int, int)  # id, start and end offsets of the segment now heard
    # The same moment for the reading window: id, start, end, seconds of its speech (float, or
    # None when unknown), and when it began to be heard (time.monotonic()).
    segmentHeard = Signal(int, int, int, object, float)
    textRead = Signal(int, int, str)  # id, offset of the text in the request's text, the text
    chapterFound = Signal(int, int, str, int)  # id, chapter index, title, offset
    repositioned = Signal(int, int)  # id, offset speech goes on from
    speechProgress = Signal(int, int)  # id, offset speech reached (the voice's own timing)
    finished = Signal(int)
    failed = Signal(int, str, bool)  # id, reason for the user, permanent
    canceled = Signal(int)
    fellBack = Signal(int, str, str, str)  # id, from provider, to provider, reason
    deviceChanged = Signal(str, str)  # device, reason
    warning = Signal(int, str)  # id, message
    queueChanged = Signal()
    stateChanged = Signal(object)  # TrayState
    quotaLow = Signal(str, int, int)  # provider, characters used, characters in the plan

    def __init__(self, narrator: Narrator, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._narrator = narrator
        self._playing: int | None = None
        self._failed = False
        self._state = TrayState.IDLE
        self._quota_warned: set[str] = set()
        self._quota_checked = -QUOTA_CHECK_SECONDS
        self._detach: Callable[[], None] | None = narrator.add_listener(self._on_event)

    @property
    def narrator(self) -> Narrator:
        return self._narrator

    @property
    def state(self) -> TrayState:
        return self._state

    def close(self) -> None:
        """Stop listening to the narrator."""
        if self._detach is not None:
            self._detach()
            self._detach = None

    # -- commands whose effect the icon shows -----------------------------------------------

    def pause(self) -> None:
        self._narrator.pause()
        self._update()

    def resume(self) -> None:
        self._narrator.resume()
        self._update()

    def toggle_pause(self) -> None:
        if self._narrator.paused:
            self.resume()
        else:
            self.pause()

    def stop(self) -> int:
        """Shut up: cancel everything; an error shown on the icon is cleared too."""
        self._failed = False
        count = self._narrator.stop()
        self._update()
        return count

    def report_error(self) -> None:
        """Something outside the narrator failed (the output would not open): show it."""
        self._failed = True
        self._update()

    # -- events ---------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RequestQueued):
            self.requestQueued.emit(int(event.request_id), event.label)
            self.queueChanged.emit()
        elif isinstance(event, RequestStarted):
            self._playing = int(event.request_id)
            self._failed = False
            self.started.emit(self._playing, str(event.voice))
            self.queueChanged.emit()
        elif isinstance(event, FirstAudio):
            self.firstAudio.emit(int(event.request_id), event.latency)
        elif isinstance(event, SegmentAudible):
            self.progress.emit(int(event.request_id), event.start, event.end)
            if time.monotonic() - self._quota_checked >= QUOTA_CHECK_SECONDS:
                self._check_quota()
            self.segmentHeard.emit(
                int(event.request_id), event.start, event.end, event.duration, event.at
            )
        elif isinstance(event, TextRead):
            self.textRead.emit(int(event.request_id), event.start, event.text)
        elif isinstance(event, ChapterFound):
            self.chapterFound.emit(int(event.request_id), event.index, event.title, event.offset)
        elif isinstance(event, Repositioned):
            self.repositioned.emit(int(event.request_id), event.offset)
        elif isinstance(event, SpeechProgress):
            self.speechProgress.emit(int(event.request_id), event.offset)
        elif isinstance(event, RequestFinished):
            self._end(int(event.request_id))
            self.finished.emit(int(event.request_id))
            self._check_quota()
        elif isinstance(event, RequestFailed):
            self._end(int(event.request_id))
            self._failed = True
            self.failed.emit(int(event.request_id), event.reason, event.permanent)
            self._check_quota()
        elif isinstance(event, RequestCanceled):
            self._end(int(event.request_id))
            self.canceled.emit(int(event.request_id))
        elif isinstance(event, ProviderFellBack):
            self.fellBack.emit(
                int(event.request_id), event.from_provider, event.to_provider, event.reason
            )
        elif isinstance(event, RequestWarning):
            self.warning.emit(int(event.request_id), event.message)
        elif isinstance(event, OutputDeviceChanged):
            self.deviceChanged.emit(event.device, event.reason)
        self._update()

    def _check_quota(self) -> None:
        self._quota_checked = time.monotonic()
        for provider, figures in self._narrator.stats().providers.items():
            quota = figures.get("quota")
            if not isinstance(quota, Mapping):
                continue
            used, limit = quota.get("used"), quota.get("limit")
            if not isinstance(used, int) or not isinstance(limit, int) or limit <= 0:
                continue
            if used < QUOTA_WARNING * limit:
                self._quota_warned.discard(provider)
            elif provider not in self._quota_warned:
                self._quota_warned.add(provider)
                self.quotaLow.emit(provider, used, limit)

    def _end(self, request_id: int) -> None:
        if self._playing == request_id:
            self._playing = None
        self.queueChanged.emit()

    def _update(self) -> None:
        if self._narrator.paused:
            state = TrayState.PAUSED
        elif self._playing is not None or self._narrator.queue():
            state = TrayState.SPEAKING  # also between two requests: no flicker to idle
        elif self._failed:
            state = TrayState.ERROR
        else:
            state = TrayState.IDLE
        if state is not self._state:
            self._state = state
            self.stateChanged.emit(state)
