"""Standard input as a text source.

``echo text | voxtray speak -`` must behave exactly like a file: the same binary check, the
same encoding detection and the same warnings. Rather than a second decoder, standard input is
spooled to a private temporary file named ``standard input`` and read like any other file; the
narration streams from it, so a long pipe costs disk, not memory.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

STDIN_NAME = "standard input"


def spool_stdin(stream: BinaryIO, folder: Path) -> Path:
    """Copy ``stream`` into ``folder`` (which the caller owns and removes) and return the path."""
    path = folder / STDIN_NAME
    with path.open("wb") as spool:
        shutil.copyfileobj(stream, spool, length=1 << 16)
    path.chmod(0o600)
    return path
