"""What reading inside a ZIP archive (an EPUB book, a Word document) can fail with, and the
user's sentence for it.

A damaged archive fails in many ways, none of them documented by zipfile as such: a bad CRC or
header (``BadZipFile``), a corrupt deflate stream (``zlib.error``), a member cut short
(``EOFError``), a garbled compression method or flag (``NotImplementedError``, or
``RuntimeError`` for "encrypted"), a size or offset that points before the start of the file
(``OSError`` EINVAL from ``seek``, ``ValueError``). All of them mean the file is damaged; only
an ``OSError`` of the disk itself (EIO, EACCES…) means it could not be read.
"""

from __future__ import annotations

import errno
import lzma
import zipfile
import zlib
from pathlib import Path

from ...errors import DamagedDocumentError, InputError
from ..document import unreadable_error

__all__ = ["ARCHIVE_ERRORS", "archive_error"]

ARCHIVE_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def archive_error(path: Path, exc: Exception) -> InputError:
    """The error to raise for ``exc``, met while reading inside the archive ``path``."""
    if isinstance(exc, OSError) and exc.errno not in (None, errno.EINVAL):
        return unreadable_error(path, exc)
    return DamagedDocumentError(f"{path.name} is damaged (the archive is corrupt).")
