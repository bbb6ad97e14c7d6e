"""Text from the clipboard or the primary selection, as the "read now" hotkey wants it.

The clipboard (``QClipboard.Mode.Clipboard``) is what the user copied; the primary selection
(``Mode.Selection``, X11 and some Wayland compositors) is whatever was last highlighted. Where
the platform has no selection, the clipboard is read instead. Qt reads both across processes.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtGui import QClipboard, QGuiApplication

Source = Literal["clipboard", "selection"]


class ClipboardEmptyError(Exception):
    """Nothing to read; ``str()`` is the notice for the user."""


def read_text(source: Source = "clipboard") -> str:
    """The text of the clipboard or the selection. Raises :class:`ClipboardEmptyError`."""
    clipboard = QGuiApplication.clipboard()
    mode = QClipboard.Mode.Clipboard
    name = "clipboard"
    if source == "selection" and clipboard.supportsSelection():
        mode, name = QClipboard.Mode.Selection, "selection"
    text = clipboard.text(mode)
    if not text.strip():
        raise ClipboardEmptyError(f"The {name} has no text")
    return text
