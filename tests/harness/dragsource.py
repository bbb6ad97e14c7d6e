"""A real X11 drag source for the drop test: ``python -m tests.harness.dragsource FILE``.

It shows a small window titled ``voxtray-drag-source``; a mouse press on it starts a Qt drag of
FILE's URL (XDND, the protocol every Linux file manager speaks), which follows the real pointer,
so ``xdotool`` moving the pointer and releasing the button drops FILE wherever it is released.
Prints the drop action Qt reports, and runs until it is terminated.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel


class Source(QLabel):
    def __init__(self, path: str) -> None:
        super().__init__("drag me")
        self._path = path
        self.setWindowTitle("voxtray-drag-source")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.resize(120, 80)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(self._path)])
        drag = QDrag(self)
        drag.setMimeData(mime)
        action = drag.exec(Qt.DropAction.CopyAction)
        # Stay: the target may still be fetching the data (XDND transfers it lazily, through
        # a selection this process owns). The test ends this process when it is done.
        print(f"dropped: {action.name}", flush=True)


def main() -> None:
    app = QApplication(sys.argv[:1])
    source = Source(sys.argv[1])
    source.move(700, 500)
    source.show()
    app.exec()


if __name__ == "__main__":
    main()
