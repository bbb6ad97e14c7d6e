"""The reading window: the text being read, the sentence being heard highlighted and the word
within it, following along; a click (or Enter) in a sentence goes there.

The window shows the :class:`~voxtray.desktop.transcript.Transcript`'s document, so it can be
opened at any time and shows the current request from its start. It does not listen to the
narrator: the transcript follows the bridge's signals, and the window follows the transcript.
Commands go to the narrator (skip, rewind, jump) or through the bridge (pause, so the tray icon
follows).

The word follows the voice's own timing where it has one (ElevenLabs alignment: each aligned
chunk that becomes audible says how far speech got, ``SpeechProgress``); otherwise it is an
estimate: the segment's speech lasts ``duration`` seconds and the word is placed by character
proportion. The estimate's timer runs at 25 Hz only while speech is heard, the window is visible
and nothing is paused; idle, paused or hidden, the window runs no timer at all.

Following: the highlighted sentence is kept in view, unless the user scrolls away (scroll bar,
wheel, keyboard); the Follow button (Ctrl+L) brings it back, and so does a jump.

Keyboard: Alt+Left/Right move by sentence, Alt+Up/Down by paragraph, Alt+Page Up/Page Down by
chapter, Ctrl+Space pauses and resumes, Ctrl+Plus/Minus/0 change the text size, Escape closes.
Every control has an accessible name and is reachable with Tab.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QFont,
    QHideEvent,
    QKeySequence,
    QShortcut,
    QShowEvent,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)
from voxtray.core.model import TextUnit

from ..bridge import TrayState
from ..transcript import Transcript
from .reading_view import ReadingView, highlight_colors

TICK_MS = 40
"""The word moves at 25 Hz while speech is heard."""

NOTHING_PLAYS = (
    "Nothing is being read. Read the clipboard, open a file or drop text on VoxTray, "
    "and its text appears here, with the sentence being spoken highlighted."
)


class ReaderWindow(QWidget):
    """The reading window; see the module docstring."""

    wordChanged = Signal()  # the highlighted word (or sentence) moved

    def __init__(self, transcript: Transcript, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self._transcript = transcript
        self._bridge = transcript.bridge
        self._narrator = transcript.bridge.narrator
        self._follow = True
        self._zoom = 0
        self._sentence: tuple[int, int] | None = None
        self._word: tuple[int, int] | None = None
        self.setWindowTitle("VoxTray — reading")
        self.setAccessibleName("VoxTray reading window")

        self.view = ReadingView()
        self.view.setDocument(transcript.document)
        self.view.setPlaceholderText(NOTHING_PLAYS)
        self.view.setAccessibleName("Text being read")
        self.view.setAccessibleDescription(
            "Click a sentence or press Enter in it to read from there."
        )
        self._text_size = round(max(self.view.font().pointSizeF(), 11.0) * 1.15)
        self._set_text_size()
        self.view.activated.connect(self._activated)
        self.view.userScrolled.connect(lambda: self.set_follow(False))

        style = self.style()
        pixmap = QStyle.StandardPixmap
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text, icon, name, keys, action in (
            ("chapter-", "Chapter", pixmap.SP_MediaSkipBackward, "Previous chapter",
             "Alt+PgUp", lambda: self._narrator.rewind(TextUnit.CHAPTER)),
            ("paragraph-", "Paragraph", pixmap.SP_MediaSeekBackward, "Previous paragraph",
             "Alt+Up", lambda: self._narrator.rewind(TextUnit.PARAGRAPH)),
            ("sentence-", "Sentence", pixmap.SP_ArrowBack, "Previous sentence",
             "Alt+Left", lambda: self._narrator.rewind(TextUnit.SENTENCE)),
            ("pause", "Pause", pixmap.SP_MediaPause, "Pause",
             "Ctrl+Space", None),
            ("sentence+", "Sentence", pixmap.SP_ArrowForward, "Next sentence",
             "Alt+Right", lambda: self._narrator.skip(TextUnit.SENTENCE)),
            ("paragraph+", "Paragraph", pixmap.SP_MediaSeekForward, "Next paragraph",
             "Alt+Down", lambda: self._narrator.skip(TextUnit.PARAGRAPH)),
            ("chapter+", "Chapter", pixmap.SP_MediaSkipForward, "Next chapter",
             "Alt+PgDown", lambda: self._narrator.skip(TextUnit.CHAPTER)),
        ):  # fmt: skip
            button = QPushButton(style.standardIcon(icon), text)
            button.setAutoDefault(False)
            button.setAccessibleName(name)
            shortcut = QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)
            button.setToolTip(f"{name} ({shortcut})")
            if action is None:
                button.clicked.connect(self.toggle_pause)
                handler: Callable[[], None] = self.toggle_pause
            else:
                handler = self._command(name, action)
                button.clicked.connect(handler)
            QShortcut(QKeySequence(keys), self, handler)
            self.buttons[key] = button
            row.addWidget(button)
        QShortcut(QKeySequence(Qt.Key.Key_MediaTogglePlayPause), self, self.toggle_pause)
        QShortcut(QKeySequence(Qt.Key.Key_MediaPlay), self, self.toggle_pause)
        QShortcut(QKeySequence(Qt.Key.Key_MediaPause), self, self.toggle_pause)

        self.chapter_box = QComboBox()
        self.chapter_box.setAccessibleName("Go to chapter")
        self.chapter_box.setToolTip("Go to a chapter found so far")
        self.chapter_box.setMinimumContentsLength(16)
        self.chapter_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.chapter_box.activated.connect(self._chapter_chosen)
        chapter_label = QLabel("C&hapter:")
        chapter_label.setBuddy(self.chapter_box)

        self.follow_button = QPushButton("&Follow")
        self.follow_button.setCheckable(True)
        self.follow_button.setChecked(True)
        self.follow_button.setAutoDefault(False)
        self.follow_button.setAccessibleName("Follow the sentence being read")
        self.follow_button.setToolTip("Keep the sentence being read in view (Ctrl+L)")
        self.follow_button.toggled.connect(self.set_follow)
        QShortcut(QKeySequence("Ctrl+L"), self, lambda: self.set_follow(True))

        self.smaller_button = QPushButton("A−")
        self.smaller_button.setAccessibleName("Smaller text")
        self.smaller_button.setToolTip("Smaller text (Ctrl+Minus)")
        self.smaller_button.clicked.connect(lambda: self.zoom(-1))
        self.larger_button = QPushButton("A+")
        self.larger_button.setAccessibleName("Larger text")
        self.larger_button.setToolTip("Larger text (Ctrl+Plus)")
        self.larger_button.clicked.connect(lambda: self.zoom(+1))
        for button in (self.smaller_button, self.larger_button):
            button.setAutoDefault(False)
        QShortcut(QKeySequence(QKeySequence.StandardKey.ZoomIn), self, lambda: self.zoom(+1))
        QShortcut(QKeySequence("Ctrl+="), self, lambda: self.zoom(+1))
        QShortcut(QKeySequence(QKeySequence.StandardKey.ZoomOut), self, lambda: self.zoom(-1))
        QShortcut(QKeySequence("Ctrl+0"), self, lambda: self.zoom(-self._zoom))
        QShortcut(QKeySequence(QKeySequence.StandardKey.Cancel), self, self.close)

        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setAccessibleName("Reading status")
        self.status.setWordWrap(True)

        second = QHBoxLayout()
        second.addWidget(chapter_label)
        second.addWidget(self.chapter_box, 1)
        second.addWidget(self.follow_button)
        second.addWidget(self.smaller_button)
        second.addWidget(self.larger_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(second)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self.resize(760, 560)

        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

        transcript.reset.connect(self._reset)
        transcript.textChanged.connect(self._text_changed)
        transcript.segmentChanged.connect(self._segment_changed)
        transcript.spokenMoved.connect(self._tick)
        transcript.chaptersChanged.connect(self._fill_chapters)
        # Bound methods, not lambdas: Qt drops the connections when the window is deleted.
        transcript.playingChanged.connect(self._show_state)
        transcript.pausedChanged.connect(self._paused_changed)
        self._bridge.stateChanged.connect(self._show_state)
        self._fill_chapters()
        self._segment_changed()
        self._show_state()

    # -- public ---------------------------------------------------------------------------------

    @property
    def follow(self) -> bool:
        return self._follow

    def highlighted_sentence(self) -> tuple[int, int] | None:
        """``[start, end)`` offsets of the highlighted sentence, ``None`` when none is."""
        return self._sentence

    def highlighted_word(self) -> tuple[int, int] | None:
        return self._word

    def set_follow(self, follow: bool) -> None:
        if follow == self._follow:
            return
        self._follow = follow
        self.follow_button.setChecked(follow)
        if follow:
            self._scroll_to_reading()

    def toggle_pause(self) -> None:
        self._bridge.toggle_pause()

    def zoom(self, steps: int) -> None:
        steps = max(-6, min(20, self._zoom + steps)) - self._zoom
        if not steps:
            return
        self._zoom += steps
        self._set_text_size()
        if self._follow:
            self._scroll_to_reading()

    @property
    def zoom_steps(self) -> int:
        return self._zoom

    def _set_text_size(self) -> None:
        font = QFont(self.view.font())
        font.setPointSize(self._text_size + self._zoom)
        self.view.setFont(font)

    # -- commands -------------------------------------------------------------------------------

    def _command(self, name: str, action: Callable[[], bool]) -> Callable[[], None]:
        def run() -> None:
            if not action():
                self._say(f"{name}: there is nowhere to go from here.")

        return run

    def _activated(self, position: int) -> None:
        if self._transcript.document.isEmpty():
            return
        offset = self._transcript.offset_at(position)
        if self._narrator.jump_to(offset):
            self.set_follow(True)
        else:
            self._say("That text is no longer being read: nothing to go back to.")

    def _chapter_chosen(self, row: int) -> None:
        index = self.chapter_box.itemData(row)
        if isinstance(index, int):
            if self._narrator.jump_to_chapter(index):
                self.set_follow(True)
            else:
                self._say("That chapter cannot be reached now.")

    # -- following the transcript ---------------------------------------------------------------

    def _reset(self) -> None:
        self._sentence = self._word = None
        self._apply_highlight()
        self._fill_chapters()
        self.set_follow(True)
        self.view.verticalScrollBar().setValue(0)
        self._show_state()

    def _text_changed(self) -> None:
        self._apply_highlight()
        if self._follow:
            self._scroll_to_reading()

    def _segment_changed(self) -> None:
        segment = self._transcript.segment
        self._sentence = (segment.start, segment.end) if segment is not None else None
        self._word = self._transcript.word_at(time.monotonic())
        self._apply_highlight()
        if self._follow:
            self._scroll_to_reading()
        self._show_chapter()
        self._run_timer()
        self.wordChanged.emit()

    def _paused_changed(self) -> None:
        self._show_state()
        self._run_timer()

    def _tick(self) -> None:
        now = time.monotonic()
        if self._transcript.check_pause(now):
            self.timer.stop()
            return
        word = self._transcript.word_at(now)
        if word != self._word:
            self._word = word
            self._apply_highlight()
            self.wordChanged.emit()
        if self._transcript.speech_over(now):
            self.timer.stop()  # the word stays on the last one until the next segment

    def _run_timer(self) -> None:
        transcript = self._transcript
        wanted = (
            self.isVisible()
            and transcript.playing
            and not transcript.paused
            and not transcript.speech_over(time.monotonic())
        )
        if wanted and not self.timer.isActive():
            self.timer.start()
        elif not wanted:
            self.timer.stop()

    # -- showing ----------------------------------------------------------------------------

    def _range_cursor(self, span: tuple[int, int] | None) -> QTextCursor | None:
        if span is None:
            return None
        first = self._transcript.position_of(span[0])
        last = self._transcript.position_of(span[1])
        if first is None or last is None:
            return None
        cursor = QTextCursor(self._transcript.document)
        cursor.setPosition(first)
        cursor.setPosition(last, QTextCursor.MoveMode.KeepAnchor)
        return cursor

    def _apply_highlight(self) -> None:
        sentence_bg, word_bg, word_fg = highlight_colors(self.view.palette())
        selections = []
        for span, background, foreground in (
            (self._sentence, sentence_bg, None),
            (self._word, word_bg, word_fg),
        ):
            cursor = self._range_cursor(span)
            if cursor is None:
                continue
            selection = QTextEdit.ExtraSelection()
            selection.cursor = cursor  # type: ignore[attr-defined]
            char_format = QTextCharFormat()
            char_format.setBackground(background)
            if foreground is not None:
                char_format.setForeground(foreground)
                char_format.setFontUnderline(True)
            selection.format = char_format  # type: ignore[attr-defined]
            selections.append(selection)
        self.view.setExtraSelections(selections)

    def _scroll_to_reading(self) -> None:
        transcript = self._transcript
        span = self._sentence or (transcript.position, transcript.position)
        first = transcript.position_of(span[0])
        last = transcript.position_of(span[1])
        if first is None or last is None:
            return
        top_line, bottom_line = self.view.line_of(first), self.view.line_of(last)
        if top_line is None or bottom_line is None:
            return
        bar = self.view.verticalScrollBar()
        visible = self.view.visible_lines()
        if top_line >= bar.value() and bottom_line < bar.value() + visible:
            return
        context = visible // 4 if bottom_line - top_line < visible // 2 else 0
        bar.setValue(max(0, top_line - context))

    def _fill_chapters(self) -> None:
        box = self.chapter_box
        box.clear()
        chapters = self._transcript.chapters
        for number, chapter in enumerate(chapters, 1):
            box.addItem(chapter.title or f"Chapter {number}", chapter.index)
        if not chapters:
            box.addItem("No chapters found yet")
        box.setEnabled(bool(chapters) and self._transcript.playing)
        self._show_chapter()

    def _show_chapter(self) -> None:
        chapter = self._transcript.chapter_at(self._transcript.position)
        if chapter is not None:
            row = self.chapter_box.findData(chapter.index)
            if row >= 0 and row != self.chapter_box.currentIndex():
                self.chapter_box.setCurrentIndex(row)

    def _show_state(self) -> None:
        transcript = self._transcript
        playing = transcript.playing
        paused = self._bridge.state is TrayState.PAUSED
        for key, button in self.buttons.items():
            button.setEnabled(playing or key == "pause")
        pause = self.buttons["pause"]
        pause.setText("Resume" if paused else "Pause")
        pause.setAccessibleName("Resume" if paused else "Pause")
        pause.setIcon(
            self.style().standardIcon(
                QStyle.StandardPixmap.SP_MediaPlay
                if paused
                else QStyle.StandardPixmap.SP_MediaPause
            )
        )
        self.chapter_box.setEnabled(playing and bool(transcript.chapters))
        label = f"“{transcript.label}”" if transcript.label else "the text"
        if playing and paused:
            text = f"Paused while reading {label}."
        elif playing:
            text = f"Reading {label}."
        elif paused:
            text = "Paused. Nothing is playing."
        elif transcript.request_id is not None:
            text = "Nothing is playing: the last text read is shown."
        else:
            text = "Nothing is playing."
        self.status.setText(text)
        self.status.setAccessibleDescription(text)

    def _say(self, message: str) -> None:
        self.status.setText(message)

    # -- Qt events ------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._segment_changed()

    def hideEvent(self, event: QHideEvent) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        super().closeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # a light or dark theme now
            self._apply_highlight()
