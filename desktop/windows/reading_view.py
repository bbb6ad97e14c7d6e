"""The reading window's text view, and the colours of its highlight.

:class:`ReadingView` is a read-only, selectable ``QPlainTextEdit`` with a keyboard caret that
reports a click (not a drag) or Enter as ``activated`` and the user's own scrolling as
``userScrolled``, and tells which visual line a position is on (the scroll bar's unit) so the
window can keep the sentence in view without moving the caret.

:func:`highlight_colors` derives the sentence and word colours from the palette, checked
against WCAG contrast, so the highlight reads in light and dark themes alike.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPalette
from PySide6.QtWidgets import QAbstractSlider, QPlainTextEdit, QWidget

MIN_CONTRAST = 4.5
"""WCAG AA contrast between the text and the highlight behind it."""


def luminance(color: QColor) -> float:
    """WCAG relative luminance."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * amount,
        a.greenF() + (b.greenF() - a.greenF()) * amount,
        a.blueF() + (b.blueF() - a.blueF()) * amount,
    )


def highlight_colors(palette: QPalette) -> tuple[QColor, QColor, QColor]:
    """Sentence background, word background and word text for ``palette``.

    The sentence is the palette's highlight mixed into the page, as strongly as the text on it
    keeps a contrast of 4.5:1; the word is the palette's own selection colours, or black or
    white on the highlight when the theme's pair reads worse than that.
    """
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    accent = palette.color(QPalette.ColorRole.Highlight)
    amount = 0.4
    sentence = _mix(base, accent, amount)
    while amount > 0.1 and contrast(text, sentence) < MIN_CONTRAST:
        amount -= 0.05
        sentence = _mix(base, accent, amount)
    word_text = palette.color(QPalette.ColorRole.HighlightedText)
    if contrast(word_text, accent) < MIN_CONTRAST:
        black, white = QColor(Qt.GlobalColor.black), QColor(Qt.GlobalColor.white)
        word_text = black if contrast(black, accent) >= contrast(white, accent) else white
    return sentence, accent, word_text


class ReadingView(QPlainTextEdit):
    """The text: read-only, selectable, with a caret for the keyboard.

    ``activated`` carries the document position of a click (not a drag) or of the caret when
    Enter is pressed; ``userScrolled`` says the user moved the view themselves.
    """

    activated = Signal(int)
    userScrolled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setUndoRedoEnabled(False)
        self.setTabChangesFocus(True)
        self._pressed_at: QPoint | None = None
        self.verticalScrollBar().actionTriggered.connect(self._scrollbar_action)

    def _scrollbar_action(self, action: int) -> None:
        if action != QAbstractSlider.SliderAction.SliderNoAction.value:
            self.userScrolled.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            cursor = self.textCursor()
            self.activated.emit(cursor.selectionStart())
            event.accept()
            return
        before = self.verticalScrollBar().value()
        super().keyPressEvent(event)
        if self.verticalScrollBar().value() != before:
            self.userScrolled.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pressed, self._pressed_at = self._pressed_at, None
        super().mouseReleaseEvent(event)
        point = event.position().toPoint()
        if (
            event.button() == Qt.MouseButton.LeftButton
            and pressed is not None
            and (point - pressed).manhattanLength() < 6
            and not self.textCursor().hasSelection()
            and not self.document().isEmpty()
        ):
            self.activated.emit(self.cursorForPosition(point).position())

    def line_of(self, position: int) -> int | None:
        """The visual line (the scroll bar's unit) that document ``position`` is on."""
        block = self.document().findBlock(position)
        if not block.isValid():
            return None
        line = 0
        layout = block.layout()
        if layout is not None and layout.lineCount() > 0:
            found = layout.lineForTextPosition(position - block.position())
            if found.isValid():
                line = found.lineNumber()
        return block.firstLineNumber() + line

    def visible_lines(self) -> int:
        return max(1, self.viewport().height() // max(1, self.fontMetrics().lineSpacing()))
