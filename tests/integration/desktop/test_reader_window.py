"""The reading window: the text as it is read, the sentence and word being heard, jumps.

Two halves. The first feeds the bridge synthetic engine events through a stand-in narrator,
where every offset and time is chosen by the test (placement of re-sent and far pieces, the
memory bound, the word estimate across a pause, scrolling, contrast). The second runs the real
narrator with the tone voice on the qasync loop and checks the window against the engine's own
events while it plays.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QTextCursor
from PySide6.QtWidgets import QAbstractSlider, QApplication, QWidget
from pytestqt.qtbot import QtBot
from voxtray.core.model import (
    ChapterFound,
    Event,
    Priority,
    Repositioned,
    RequestFinished,
    RequestId,
    RequestQueued,
    RequestStarted,
    SegmentAudible,
    SpeakRequest,
    SpeechProgress,
    TextRead,
    TextUnit,
    VoiceRef,
)
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.desktop.bridge import NarratorBridge
from voxtray.desktop.transcript import CAP, SLACK, Transcript
from voxtray.desktop.windows.reader import NOTHING_PLAYS, ReaderWindow
from voxtray.desktop.windows.reading_view import MIN_CONTRAST, contrast, highlight_colors

from tests.fakes.clocked_output import ClockedOutput
from tests.harness.pulse import PulseServer
from tests.harness.qtasync import wait_until
from tests.harness.signal import dominant_frequency

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = ROOT / "artifacts" / "screenshots" / "reading-window.png"
RID = RequestId(7)
SENTENCES = [
    "The first sentence sets the scene for everything that follows. ",
    "A second one carries the story a little further along the road. ",
    "Then a third sentence arrives, with a few more words to say. ",
    "The fourth is here so that there is something left to jump to. ",
    "And the last sentence closes the text for good.",
]
TEXT = "".join(SENTENCES)


def spans(sentences: list[str]) -> list[tuple[int, int]]:
    out, at = [], 0
    for sentence in sentences:
        out.append((at, at + len(sentence)))
        at += len(sentence)
    return out


# -- a stand-in narrator ------------------------------------------------------------------------


class FakeNarrator:
    """What the bridge and the window use of a narrator; events are sent by the test."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[Event], None]] = []
        self.paused = False
        self.calls: list[tuple[str, object]] = []
        self.answer = True

    def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def send(self, *events: Event) -> None:
        for event in events:
            for listener in list(self.listeners):
                listener(event)

    def queue(self) -> list[Any]:
        return []

    def stats(self) -> Any:
        return SimpleNamespace(providers={})

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stop(self) -> int:
        return 0

    def skip(self, unit: TextUnit = TextUnit.SENTENCE) -> bool:
        self.calls.append(("skip", unit))
        return self.answer

    def rewind(self, unit: TextUnit = TextUnit.SENTENCE) -> bool:
        self.calls.append(("rewind", unit))
        return self.answer

    def jump_to(self, offset: int) -> bool:
        self.calls.append(("jump_to", offset))
        return self.answer

    def jump_to_chapter(self, index: int) -> bool:
        self.calls.append(("jump_to_chapter", index))
        return self.answer


def started(rid: RequestId = RID, label: str = "A short story") -> list[Event]:
    return [
        RequestQueued(request_id=rid, label=label, priority=Priority.NORMAL),
        RequestStarted(request_id=rid, voice=VoiceRef("tone", "440")),
    ]


def text_read(start: int, text: str, rid: RequestId = RID) -> TextRead:
    return TextRead(request_id=rid, start=start, text=text)


def heard(
    start: int, end: int, duration: float | None = 2.0, at: float | None = None, index: int = 0
) -> SegmentAudible:
    return SegmentAudible(
        request_id=RID,
        segment_index=index,
        start=start,
        end=end,
        duration=duration,
        at=time.monotonic() if at is None else at,
    )


@pytest.fixture
def fake(qapp: QApplication) -> Iterator[tuple[FakeNarrator, NarratorBridge, Transcript]]:
    narrator = FakeNarrator()
    bridge = NarratorBridge(narrator)  # type: ignore[arg-type]
    transcript = Transcript(bridge)
    yield narrator, bridge, transcript
    bridge.close()
    transcript.deleteLater()
    bridge.deleteLater()


@pytest.fixture
def window(qtbot: QtBot, fake: tuple[FakeNarrator, NarratorBridge, Transcript]) -> ReaderWindow:
    _, _, transcript = fake
    shown = ReaderWindow(transcript)
    qtbot.addWidget(shown)
    shown.show()
    qtbot.waitExposed(shown)
    return shown


def shown_text(transcript: Transcript, start: int, end: int) -> str:
    """The document's text for offsets ``[start, end)``, read back from Qt."""
    first, last = transcript.position_of(start), transcript.position_of(end)
    assert first is not None, f"offset {start} is not in the document"
    assert last is not None, f"offset {end} is not in the document"
    cursor = QTextCursor(transcript.document)
    cursor.setPosition(first)
    cursor.setPosition(last, QTextCursor.MoveMode.KeepAnchor)
    return cursor.selectedText().replace("\u2029", "\n")


def extra_selection_texts(window: ReaderWindow) -> list[str]:
    return [s.cursor.selectedText() for s in window.view.extraSelections()]


# -- placing the text ---------------------------------------------------------------------------


def test_pieces_are_placed_by_offset(fake: tuple[FakeNarrator, NarratorBridge, Transcript]) -> None:
    narrator, _, transcript = fake
    narrator.send(*started())
    narrator.send(text_read(0, TEXT[:100]), text_read(100, TEXT[100:200]))
    assert transcript.text == TEXT[:200]
    narrator.send(text_read(50, TEXT[50:150]))  # sent again after a rewind: nothing doubles
    narrator.send(text_read(150, TEXT[150:250]))  # overlapping: only the new part is added
    assert transcript.text == TEXT[:250]
    assert transcript.document.toPlainText() == TEXT[:250]
    narrator.send(text_read(1000, "Far ahead."))  # a gap: start over there
    assert (transcript.start, transcript.text) == (1000, "Far ahead.")
    narrator.send(text_read(990, "0123456789"))  # just before: joined at the front
    assert (transcript.start, transcript.text) == (990, "0123456789Far ahead.")
    assert shown_text(transcript, 1000, 1010) == "Far ahead."


def test_offsets_count_characters_not_utf16_units(
    fake: tuple[FakeNarrator, NarratorBridge, Transcript],
) -> None:
    narrator, _, transcript = fake
    text = "Emoji 😀 here.\nAnd 🎉🎉 there. Plain after."
    narrator.send(*started(), text_read(0, text))
    for offset in range(len(text) + 1):
        position = transcript.position_of(offset)
        assert position is not None
        assert transcript.offset_at(position) == offset
    start = text.index("there")
    assert shown_text(transcript, start, start + 5) == "there"
    assert shown_text(transcript, 0, len(text)) == text


def test_memory_stays_bounded_while_a_long_text_is_read(
    fake: tuple[FakeNarrator, NarratorBridge, Transcript],
) -> None:
    narrator, _, transcript = fake
    narrator.send(*started())
    sentence = "This is one of many sentences in a very long document.\n"
    piece = sentence * 800  # about 45 000 characters a piece
    offset = 0
    largest = 0
    for _ in range(30):  # 1.3 million characters
        narrator.send(text_read(offset, piece))
        offset += len(piece)
        start = offset - len(piece) // 2  # the listener is a little behind the reading
        narrator.send(heard(start, start + len(sentence)))
        largest = max(largest, transcript.document.characterCount())
        assert shown_text(transcript, start, start + len(sentence)) == sentence
    assert largest <= CAP + 2 * SLACK
    assert transcript.start > 0  # far-behind text was dropped


def test_one_huge_piece_waits_outside_the_document(
    fake: tuple[FakeNarrator, NarratorBridge, Transcript],
) -> None:
    narrator, _, transcript = fake
    sentence = "A sentence of a pasted text that is far too long to show at once.\n"
    text = sentence * 20_000  # 1.3 million characters in a single piece
    narrator.send(*started(), text_read(0, text))
    assert transcript.document.characterCount() <= CAP + SLACK
    assert transcript.kept == len(text)
    late = len(sentence) * 15_000
    assert transcript.position_of(late) is None
    narrator.send(heard(late, late + len(sentence)))  # the reading got there
    assert shown_text(transcript, late, late + len(sentence)) == sentence
    assert transcript.document.characterCount() <= CAP + 2 * SLACK


# -- highlight and word ---------------------------------------------------------------------------


def test_sentence_and_word_are_highlighted(
    window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, _ = fake
    narrator.send(*started(), text_read(0, TEXT))
    start, end = spans(SENTENCES)[1]
    narrator.send(heard(start, end, duration=3.0))
    assert window.highlighted_sentence() == (start, end)
    word = window.highlighted_word()
    assert word is not None and start <= word[0] < word[1] <= end
    assert extra_selection_texts(window) == [TEXT[start:end], TEXT[word[0] : word[1]]]
    assert TEXT[word[0] : word[1]] == "A"  # the speech has just begun
    assert window.timer.isActive()


def test_word_follows_the_time_and_stops_while_paused(
    fake: tuple[FakeNarrator, NarratorBridge, Transcript],
) -> None:
    narrator, _, transcript = fake
    narrator.send(*started(), text_read(0, TEXT))
    start, end = spans(SENTENCES)[0]
    at = time.monotonic()
    narrator.send(heard(start, end, duration=4.0, at=at))
    words = [transcript.word_at(at + 4.0 * k / 40) for k in range(41)]
    assert all(w is not None and start <= w[0] < w[1] <= end for w in words)
    starts = [w[0] for w in words if w is not None]
    assert starts == sorted(starts) and len(set(starts)) == len(TEXT[start:end].split())
    assert TEXT[slice(*words[-1])] == "follows"  # type: ignore[misc]
    # Paused one second in, for ten seconds: the estimate stands still, then goes on.
    later = transcript.word_at(at + 2.5)
    narrator.paused = True
    transcript.check_pause(at + 1.0)
    frozen = transcript.word_at(at + 1.0)
    assert transcript.word_at(at + 11.0) == frozen
    narrator.paused = False
    transcript.check_pause(at + 11.0)
    assert transcript.word_at(at + 11.0) == frozen
    assert transcript.word_at(at + 12.5) == later != frozen
    assert not transcript.speech_over(at + 13.9) and transcript.speech_over(at + 14.0)


def test_unknown_duration_highlights_the_sentence_only(
    window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, _ = fake
    narrator.send(*started(), text_read(0, TEXT))
    start, end = spans(SENTENCES)[2]
    narrator.send(heard(start, end, duration=None))
    assert window.highlighted_sentence() == (start, end)
    assert window.highlighted_word() is None
    assert extra_selection_texts(window) == [TEXT[start:end]]
    assert not window.timer.isActive()


def test_the_voice_s_own_timing_places_the_word(
    window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    """ElevenLabs alignment (``SpeechProgress``) moves the word even when the sentence's
    length in time is not known yet, and without any timer."""
    narrator, _, _ = fake
    narrator.send(*started(), text_read(0, TEXT))
    start, end = spans(SENTENCES)[2]
    narrator.send(heard(start, end, duration=None))
    sentence = TEXT[start:end]
    for word in sentence.split()[1:3]:
        offset = start + sentence.index(word)
        narrator.send(SpeechProgress(request_id=RID, offset=offset))
        assert window.highlighted_word() == (offset, offset + len(word.strip(".,;:!?")))
    narrator.send(SpeechProgress(request_id=RID, offset=end + 5))  # not this sentence: ignored
    assert window.highlighted_word() == (offset, offset + len(word.strip(".,;:!?")))
    assert not window.timer.isActive()


def test_no_timer_runs_when_idle_paused_or_hidden(
    qtbot: QtBot, window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, bridge, _ = fake
    assert not window.timer.isActive()
    assert window.view.placeholderText() == NOTHING_PLAYS
    assert window.status.text() == "Nothing is playing."
    narrator.send(*started(), text_read(0, TEXT))
    narrator.send(heard(*spans(SENTENCES)[0], duration=30.0))
    assert window.timer.isActive()
    bridge.pause()
    assert not window.timer.isActive() and window.buttons["pause"].text() == "Resume"
    bridge.resume()
    assert window.timer.isActive() and window.buttons["pause"].text() == "Pause"
    window.hide()
    assert not window.timer.isActive()
    window.show()
    qtbot.waitExposed(window)
    assert window.timer.isActive()
    narrator.send(RequestFinished(request_id=RID))
    assert not window.timer.isActive()
    assert window.highlighted_sentence() is None
    assert window.status.text() == "Nothing is playing: the last text read is shown."
    assert not window.buttons["sentence+"].isEnabled()


def test_a_new_request_starts_over(
    window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, transcript = fake
    narrator.send(*started(), text_read(0, TEXT))
    narrator.send(ChapterFound(request_id=RID, index=0, title="One", offset=0))
    narrator.send(heard(*spans(SENTENCES)[3]))
    narrator.send(RequestFinished(request_id=RID))
    narrator.send(
        *started(RequestId(8), "Another text"), text_read(0, "Another text.", RequestId(8))
    )
    assert transcript.text == "Another text."
    assert transcript.chapters == [] and window.chapter_box.count() == 1
    assert window.highlighted_sentence() is None
    assert window.status.text() == "Reading “Another text”."
    narrator.send(text_read(13, " Late words of the old one.", RID))  # ended: ignored
    assert transcript.text == "Another text."


def test_highlight_has_accessible_contrast_in_light_and_dark_palettes() -> None:
    light = QPalette(QColor("#f4f4f4"))
    light.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    light.setColor(QPalette.ColorRole.Text, QColor("#1a1a1a"))
    light.setColor(QPalette.ColorRole.Highlight, QColor("#3584e4"))
    light.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    dark = QPalette(QColor("#303030"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#eeeeee"))
    dark.setColor(QPalette.ColorRole.Highlight, QColor("#78aeed"))
    dark.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))  # poor: fixed
    for palette in (light, dark, QApplication.palette()):
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        sentence, word_bg, word_fg = highlight_colors(palette)
        assert contrast(text, sentence) >= MIN_CONTRAST
        assert contrast(word_fg, word_bg) >= MIN_CONTRAST
        assert contrast(base, sentence) > 1.2  # the sentence stands out from the page


# -- following along ------------------------------------------------------------------------------


def long_text(paragraphs: int = 120) -> tuple[str, list[tuple[int, int]]]:
    sentence = "Every paragraph here has one sentence that fills a line or so of text."
    text = "\n\n".join(f"{n}. {sentence}" for n in range(paragraphs))
    starts = [i for i in range(len(text)) if i == 0 or text[i - 2 : i] == "\n\n"]
    return text, [(s, text.find(".", s + 4) + 1) for s in starts]


def sentence_visible(window: ReaderWindow, start: int) -> bool:
    position = window._transcript.position_of(start)
    assert position is not None
    cursor = QTextCursor(window._transcript.document)
    cursor.setPosition(position)
    rect = window.view.cursorRect(cursor)
    return window.view.viewport().rect().contains(rect.center())


def test_follows_unless_the_user_scrolled_away(
    window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, _ = fake
    text, sentences = long_text()
    narrator.send(*started(), text_read(0, text))
    for index in (0, 40, 90):
        narrator.send(heard(*sentences[index]))
        assert sentence_visible(window, sentences[index][0]), index
    window.view.verticalScrollBar().triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)
    assert not window.follow and not window.follow_button.isChecked()
    narrator.send(heard(*sentences[100]))
    assert not sentence_visible(window, sentences[100][0])  # the user reads elsewhere
    window.follow_button.click()
    assert window.follow and sentence_visible(window, sentences[100][0])


# -- commands -------------------------------------------------------------------------------------


def test_a_click_or_enter_in_a_sentence_jumps_there(
    qtbot: QtBot, window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, transcript = fake
    narrator.send(*started(), text_read(0, TEXT), heard(*spans(SENTENCES)[0]))
    target = TEXT.index("something left")
    point = click_point(window, target + 3)
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert narrator.calls == [("jump_to", target + 3)]
    # Enter with the caret in a sentence.
    caret = window.view.textCursor()
    position = transcript.position_of(TEXT.index("third"))
    assert position is not None
    caret.setPosition(position)
    window.view.setTextCursor(caret)
    qtbot.keyClick(window.view, Qt.Key.Key_Return)
    assert narrator.calls[-1] == ("jump_to", TEXT.index("third"))
    # A drag selects text and does not jump.
    calls = len(narrator.calls)
    start = click_point(window, 2)
    qtbot.mousePress(window.view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(window.view.viewport(), click_point(window, 40))
    qtbot.mouseRelease(
        window.view.viewport(), Qt.MouseButton.LeftButton, pos=click_point(window, 40)
    )
    assert len(narrator.calls) == calls


def click_point(window: ReaderWindow, offset: int) -> QPoint:
    position = window._transcript.position_of(offset)
    assert position is not None
    cursor = QTextCursor(window._transcript.document)
    cursor.setPosition(position)
    rect = window.view.cursorRect(cursor)
    return QPoint(rect.left() + 1, rect.center().y())


def activate(qtbot: QtBot, window: QWidget) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)


SHORTCUTS = [
    (Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier, ("rewind", TextUnit.SENTENCE)),
    (Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier, ("skip", TextUnit.SENTENCE)),
    (Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier, ("rewind", TextUnit.PARAGRAPH)),
    (Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier, ("skip", TextUnit.PARAGRAPH)),
    (Qt.Key.Key_PageUp, Qt.KeyboardModifier.AltModifier, ("rewind", TextUnit.CHAPTER)),
    (Qt.Key.Key_PageDown, Qt.KeyboardModifier.AltModifier, ("skip", TextUnit.CHAPTER)),
]


def test_transport_shortcuts_and_buttons(
    qtbot: QtBot, window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, _ = fake
    narrator.send(*started(), text_read(0, TEXT), heard(*spans(SENTENCES)[1]))
    activate(qtbot, window)
    window.view.setFocus()
    for key, modifier, call in SHORTCUTS:
        qtbot.keyClick(window.view, key, modifier)
        assert narrator.calls[-1] == call
    assert len(narrator.calls) == len(SHORTCUTS)
    qtbot.keyClick(window.view, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert narrator.paused and window.buttons["pause"].accessibleName() == "Resume"
    qtbot.keyClick(window.view, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    assert not narrator.paused
    window.buttons["chapter+"].click()
    assert narrator.calls[-1] == ("skip", TextUnit.CHAPTER)
    narrator.answer = False
    window.buttons["sentence-"].click()
    assert "nowhere to go" in window.status.text()
    size = window.view.font().pointSizeF()
    qtbot.keyClick(window.view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert window.view.font().pointSizeF() > size
    qtbot.keyClick(window.view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.view.font().pointSizeF() < size
    qtbot.keyClick(window.view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.view.font().pointSizeF() == size and window.zoom_steps == 0


def test_chapters_are_listed_and_chosen(
    window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, _ = fake
    narrator.send(*started(), text_read(0, TEXT))
    assert not window.chapter_box.isEnabled()
    second = spans(SENTENCES)[2][0]
    narrator.send(
        ChapterFound(request_id=RID, index=0, title="Opening", offset=0),
        ChapterFound(request_id=RID, index=1, title="Middle", offset=second),
        ChapterFound(request_id=RID, index=1, title="Middle", offset=second),  # again: once
    )
    box = window.chapter_box
    assert [box.itemText(i) for i in range(box.count())] == ["Opening", "Middle"]
    assert box.isEnabled()
    narrator.send(heard(*spans(SENTENCES)[3]))
    assert box.currentText() == "Middle"  # the chapter being read is shown
    box.activated.emit(0)  # the user picks a chapter
    assert narrator.calls == [("jump_to_chapter", 0)]
    narrator.send(Repositioned(request_id=RID, offset=0))
    assert window.highlighted_sentence() is None


def test_every_control_is_named_and_reachable_by_keyboard(
    qtbot: QtBot, window: ReaderWindow, fake: tuple[FakeNarrator, NarratorBridge, Transcript]
) -> None:
    narrator, _, _ = fake
    narrator.send(*started(), text_read(0, TEXT))
    narrator.send(ChapterFound(request_id=RID, index=0, title="Opening", offset=0))
    controls = [
        w
        for w in window.findChildren(QWidget)
        if w.focusPolicy() & Qt.FocusPolicy.TabFocus and w.isVisibleTo(window)
    ]
    names = {control.accessibleName() for control in controls}
    for control in controls:
        assert control.accessibleName(), f"{control!r} has no accessible name"
    assert {
        "Previous chapter",
        "Previous paragraph",
        "Previous sentence",
        "Pause",
        "Next sentence",
        "Next paragraph",
        "Next chapter",
        "Go to chapter",
        "Follow the sentence being read",
        "Smaller text",
        "Larger text",
        "Text being read",
    } <= names
    # Tab goes round every control.
    activate(qtbot, window)
    window.buttons["chapter-"].setFocus()
    reached = set()
    for _ in range(len(controls) + 2):
        reached.add(QApplication.focusWidget())
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert set(controls) <= reached
    assert window.accessibleName() == "VoxTray reading window"


# -- the real narrator ----------------------------------------------------------------------------

RATE = 22050


def tone_narrator(speed: float = 1.0) -> Narrator:
    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=0.012, chunk_seconds=0.05))
    return Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=speed),
        providers=registry,
        default_voice=VoiceRef("tone", "440"),
        settings=WorkerSettings(lookahead_seconds=2.0),
    )


@contextlib.asynccontextmanager
async def reading(
    events: list[Event],
) -> AsyncIterator[tuple[Narrator, NarratorBridge, ReaderWindow]]:
    """A started tone narrator, the bridge, a transcript and a shown window.

    The test's own listener comes before the bridge's, so when the window reacts to an event
    the test has already recorded it.
    """
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # as the tray app: closing it must not stop the loop
    async with tone_narrator() as narrator:
        detach = narrator.add_listener(events.append)
        bridge = NarratorBridge(narrator)
        transcript = Transcript(bridge)
        window = ReaderWindow(transcript)
        window.show()
        try:
            yield narrator, bridge, window
        finally:
            narrator.stop()
            window.close()
            bridge.close()
            detach()
            window.deleteLater()
            transcript.deleteLater()


def last(events: list[Event], kind: type[Any]) -> Any:
    return next(event for event in reversed(events) if isinstance(event, kind))


async def activated(window: QWidget) -> None:
    """Make ``window`` the active one (its shortcuts work only then), waiting for Qt to say so."""
    app = QGuiApplication.instance()
    assert isinstance(app, QGuiApplication)
    window.activateWindow()
    if QApplication.activeWindow() is not window:
        await wait_until(app.focusWindowChanged, lambda _w: QApplication.activeWindow() is window)


async def shown(transcript: Transcript, offset: int) -> None:
    """Wait until the text at ``offset`` has been read into the window."""
    if transcript.position_of(offset) is None:
        await wait_until(transcript.textChanged, lambda: transcript.position_of(offset) is not None)


async def test_the_window_follows_the_engine_while_it_reads() -> None:
    events: list[Event] = []
    async with reading(events) as (narrator, bridge, window):
        checks: list[tuple[tuple[int, int] | None, tuple[int, int], tuple[int, int] | None]] = []

        def sample() -> None:  # each time the word moves: the window against the engine
            audible = [e for e in events if isinstance(e, SegmentAudible)]
            if audible and not isinstance(events[-1], RequestFinished):
                expected = (audible[-1].start, audible[-1].end)
                checks.append((window.highlighted_sentence(), expected, window.highlighted_word()))

        window.wordChanged.connect(sample)
        handle = narrator.speak(SpeakRequest(text=TEXT))
        await wait_until(bridge.finished, lambda rid: rid == int(handle.request_id), limit=30)
        assert window._transcript.text == TEXT  # the whole text appeared as it was read
        reads = [e for e in events if isinstance(e, TextRead)]
        assert reads and reads[0].start == 0
        audible = [e for e in events if isinstance(e, SegmentAudible)]
        assert len(audible) >= len(SENTENCES)
        assert len(checks) > 3 * len(audible)  # sampled many times during playback
        for shown, expected, word in checks:
            assert shown == expected
            assert word is None or expected[0] <= word[0] < word[1] <= expected[1]
        # Within a sentence the word moves forward, through several words.
        timed = [e for e in audible if e.duration and len(TEXT[e.start : e.end].split()) >= 4]
        assert timed, "the tone voice's segments carry their duration"
        for event in timed:
            words = [w[0] for _, e, w in checks if e == (event.start, event.end) and w]
            assert words == sorted(words)
            assert len(set(words)) >= 2, (event, words)
        assert window.highlighted_sentence() is None  # finished: nothing is highlighted
        assert not window.timer.isActive()


async def test_a_click_on_a_later_sentence_goes_there(qtbot: QtBot) -> None:
    events: list[Event] = []
    async with reading(events) as (narrator, bridge, window):
        narrator.speak(SpeakRequest(text=TEXT))
        first = spans(SENTENCES)[0]
        await wait_until(bridge.segmentHeard, lambda _r, start, *_: start == first[0])
        target_start, _ = spans(SENTENCES)[3]
        target = TEXT.index("there is something", target_start)
        await shown(window._transcript, target)
        qtbot.mouseClick(
            window.view.viewport(), Qt.MouseButton.LeftButton, pos=click_point(window, target)
        )
        await wait_until(bridge.segmentHeard, lambda _r, start, *_: start == target_start)
        moved = [e for e in events if isinstance(e, Repositioned)]
        assert moved and moved[-1].offset == target_start
        heard_after = [
            e for e in events[events.index(moved[-1]) :] if isinstance(e, SegmentAudible)
        ]
        assert heard_after[0].start == target_start
        assert window.highlighted_sentence() == (target_start, heard_after[0].end)


BOOK = """\
# The harbour

The boats came in before the storm. Nobody on the quay said a word, and the gulls
kept their distance from the nets. By noon the sky had turned the colour of slate.

# The lighthouse

The keeper climbed the stairs twice that night. Each time the lamp was burning as it
should, and each time he stood a while at the glass, listening to the sea below.

# Morning

The storm passed before dawn, and the harbour woke to a calm and silver sea.
"""


async def test_chapters_of_a_document_and_a_screenshot(tmp_path: Path) -> None:
    book = tmp_path / "harbour.md"
    book.write_text(BOOK)
    events: list[Event] = []
    async with reading(events) as (narrator, bridge, window):
        window.resize(760, 440)
        narrator.speak(SpeakRequest(source=book))
        box = window.chapter_box
        await wait_until(bridge.chapterFound, lambda _r, index, *_: index == 1)
        assert box.isEnabled() and box.itemText(1) == "The lighthouse"
        # Choose the second chapter: speech goes on from its start.
        chapter = next(e for e in events if isinstance(e, ChapterFound) and e.index == 1)
        box.setCurrentIndex(1)
        before = len(events)
        box.activated.emit(1)
        if not any(isinstance(e, Repositioned) for e in events[before:]):
            await wait_until(bridge.repositioned, lambda *_: True)
        moved = last(events, Repositioned)
        assert chapter.offset <= moved.offset < chapter.offset + 20
        after = events.index(moved)
        if not any(isinstance(e, SegmentAudible) for e in events[after:]):
            await wait_until(bridge.segmentHeard, lambda *_: True)
        first = next(e for e in events[after:] if isinstance(e, SegmentAudible))
        assert first.start == moved.offset  # the first sentence heard after the move is there
        start = first.start
        assert window._transcript.text[start - window._transcript.start :].startswith("The")
        # A picture mid-sentence, the word well inside it.
        await wait_until(
            window.wordChanged,
            lambda: (
                (word := window.highlighted_word()) is not None
                and (sentence := window.highlighted_sentence()) is not None
                and word[0] - sentence[0] > 25
            ),
        )
        assert box.currentText() == "The lighthouse"
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(SCREENSHOT))


async def test_keyboard_shortcuts_skip_and_rewind(qtbot: QtBot) -> None:
    events: list[Event] = []
    async with reading(events) as (narrator, bridge, window):
        calls: list[str] = []
        skip, rewind = narrator.skip, narrator.rewind

        def spy_skip(unit: TextUnit = TextUnit.SENTENCE) -> bool:
            calls.append(f"skip {unit.value}")
            return skip(unit)

        def spy_rewind(unit: TextUnit = TextUnit.SENTENCE) -> bool:
            calls.append(f"rewind {unit.value}")
            return rewind(unit)

        narrator.skip = spy_skip  # type: ignore[method-assign]
        narrator.rewind = spy_rewind  # type: ignore[method-assign]
        narrator.speak(SpeakRequest(text=TEXT))
        sentences = spans(SENTENCES)
        await activated(window)
        *_, duration, at = await wait_until(
            bridge.segmentHeard, lambda _r, start, *_: start == sentences[1][0]
        )
        qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
        assert calls == ["skip sentence"]
        *_, skipped_at = await wait_until(
            bridge.segmentHeard, lambda _r, start, *_: start == sentences[2][0]
        )
        assert skipped_at - at < 0.5 * duration  # cut short: the rest of the sentence was skipped
        qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
        assert calls == ["skip sentence", "rewind sentence"]
        _, start, *_ = await wait_until(bridge.segmentHeard, lambda *_: True)
        assert start <= sentences[2][0]  # heard again from the sentence, or the one before


# -- against the sound itself -------------------------------------------------------------------


@pytest.mark.sound
async def test_the_highlight_is_what_the_speakers_play(pulse: PulseServer) -> None:
    """The highlighted range at time t is the segment audible at t, checked on real sound.

    The tone voice gives each segment its own pitch (300 Hz, 400 Hz, …); the real player plays
    into the null sink, whose monitor is recorded, while the window's highlight is sampled each
    time it moves. At every sample, the pitch heard at that moment must be the pitch of the
    highlighted segment, and the highlight moves within 50 ms of the sound (the device's own
    delay, 0.1 s here, is accounted for by the player; the figures are printed).
    """
    from voxtray.core.audio.player import Player

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # as the tray app: closing it must not stop the loop
    registry = ProviderRegistry()
    registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=0.01, chunk_seconds=0.05))
    player = Player(latency=0.1)
    narrator = Narrator(
        output=player,
        providers=registry,
        default_voice=VoiceRef("tone", "step:300:100"),
        settings=WorkerSettings(lookahead_seconds=2.0, first_clause_chars=200),
    )
    events: list[Event] = []
    samples: list[tuple[float, tuple[int, int] | None]] = []
    async with narrator:
        detach = narrator.add_listener(events.append)
        bridge = NarratorBridge(narrator)
        transcript = Transcript(bridge)
        window = ReaderWindow(transcript)
        window.wordChanged.connect(
            lambda: samples.append((time.monotonic(), window.highlighted_sentence()))
        )
        window.show()
        try:
            with pulse.recorder() as recorder:
                handle = narrator.speak(SpeakRequest(text=TEXT))
                await wait_until(bridge.finished, lambda rid: rid == int(handle.request_id), 30)
            heard = recorder.result
        finally:
            window.close()
            bridge.close()
            detach()
            window.deleteLater()
            transcript.deleteLater()
    pitch_of = {
        (e.start, e.end): 300 + 100 * e.segment_index
        for e in events
        if isinstance(e, SegmentAudible)
    }
    assert len(pitch_of) == len(SENTENCES)  # one segment per sentence, each its own pitch
    # When the sound changed segment, from the recording: the middle of the pitch step.
    changes = []
    step = int(0.01 * heard.rate)
    previous = None
    for index in range(0, len(heard.samples) - 2 * step, step):
        window_samples = heard.samples[index : index + 2 * step]
        if np.abs(window_samples).max() < 0.05:
            continue
        pitch = round(dominant_frequency(window_samples, heard.rate) / 100) * 100
        if previous is not None and pitch != previous:
            changes.append(heard.time_of(index + step))
        previous = pitch
    assert len(changes) == len(SENTENCES) - 1, changes
    # When the highlight changed segment.
    moves = [
        t
        for (t, span), (_, before) in zip(samples[1:], samples, strict=False)
        if span != before and span is not None and before is not None
    ]
    leads = [min(abs(change - move) for move in moves) for change in changes]
    print(f"highlight vs sound at each change of sentence (s): {[round(x, 3) for x in leads]}")
    assert max(leads) <= 0.05  # the device's own delay is accounted for
    # Away from the changes, the highlighted segment is the one heard.
    checked = 0
    for at, span in samples:
        if span is None or min(abs(at - change) for change in changes) < 0.2:
            continue
        piece = heard.samples[heard.index_of(at) - step : heard.index_of(at) + step]
        if len(piece) < 2 * step or np.abs(piece).max() < 0.05:
            continue
        assert abs(dominant_frequency(piece, heard.rate) - pitch_of[span]) < 40, (at, span)
        checked += 1
    assert checked >= 10
