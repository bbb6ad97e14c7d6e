"""Render the app icon from its SVG into the hicolor sizes and a Windows .ico.

    .venv/bin/python packaging/render_icons.py

The source is the tray's "speaking" icon (resources/icons/voxtray-speaking.svg): the speaker
with its waves is what VoxTray looks like in a launcher. Written, and committed (a few KB):

* ``resources/icons/hicolor/<n>x<n>/apps/<app-id>.png`` for every size in :data:`SIZES`,
  rendered by Qt's SVG renderer (QSvgRenderer onto a transparent QImage);
* ``resources/icons/hicolor/scalable/apps/<app-id>.svg``, the SVG itself;
* ``resources/icons/<exe-name>.ico`` for the Windows executables and the installer: an ICO
  whose entries are PNG images (allowed since Windows Vista), at 16–256 px.

Run it again whenever the SVG changes; tests/integration/test_linux_desktop_files.py checks
that every size is there with the right dimensions.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metadata import ROOT, load

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
SOURCE = ROOT / "resources" / "icons" / "voxtray-speaking.svg"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"


def render_png(svg: bytes, size: int) -> bytes:
    """The SVG drawn on a transparent ``size``×``size`` canvas, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {SOURCE} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(images: dict[int, bytes]) -> bytes:
    """An ICO file holding PNG-compressed entries (the format Windows reads since Vista)."""
    header = struct.pack("<HHH", 0, 1, len(images))  # reserved, type 1 = icon, count
    directory = b""
    payload = b""
    offset = len(header) + 16 * len(images)
    for size, png in sorted(images.items()):
        edge = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        directory += struct.pack("<BBBBHHII", edge, edge, 0, 0, 1, 32, len(png), offset)
        payload += png
        offset += len(png)
    return header + directory + payload


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(["render_icons"])
    meta = load()
    svg = SOURCE.read_bytes()
    rendered = {size: render_png(svg, size) for size in SIZES}
    for size, png in rendered.items():
        target = HICOLOR / f"{size}x{size}" / "apps" / f"{meta.app_id}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
        print(f"{target.relative_to(ROOT)} ({len(png)} bytes)")
    scalable = HICOLOR / "scalable" / "apps" / f"{meta.app_id}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(svg)
    print(scalable.relative_to(ROOT))
    windows = ROOT / "resources" / "icons" / f"{meta.exe_name}.ico"
    windows.write_bytes(ico({size: rendered[size] for size in ICO_SIZES}))
    print(f"{windows.relative_to(ROOT)} ({windows.stat().st_size} bytes)")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
