"""Where the listener left off in each document, so reopening it continues there.

Documents are known by a hash of their content, not their path: a book moved to another folder
resumes, an edited one starts over (its old offsets would point into different text). Positions
are source character offsets (what segments carry), kept in one small JSON file in the state
folder, bounded to the most recently used documents.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from .paths import atomic_write, state_dir

_LOG = logging.getLogger(__name__)

MAX_DOCUMENTS = 500
_BLOCK = 1 << 20


def document_key(path: Path) -> str:
    """A SHA-256 of the file's size, its first MiB and its last MiB (all of a smaller file).

    It is computed before the first word is spoken, so its cost must not grow with the file:
    hashing a whole 50 MB book would delay speech by a tenth of a second or more. An edit that
    keeps a big file's size to the byte and touches neither end keeps its key; the position
    then still points near the same words. Blocking: call it off the event loop.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        digest.update(str(size).encode())
        handle.seek(0)
        digest.update(handle.read(_BLOCK))
        if size > 2 * _BLOCK:
            handle.seek(size - _BLOCK)
        digest.update(handle.read(_BLOCK))
    return digest.hexdigest()


class ResumeStore:
    """Positions by document key. Used on the event loop; the file is small (≤ 500 entries)."""

    def __init__(self, path: Path | None = None, *, max_documents: int = MAX_DOCUMENTS) -> None:
        self.path = path if path is not None else state_dir() / "positions.json"
        self._max = max_documents
        self._positions: dict[str, tuple[int, float]] = {}
        self._loaded = False
        self._dirty = False

    def get(self, key: str) -> int | None:
        self._load()
        entry = self._positions.get(key)
        return entry[0] if entry is not None else None

    def set(self, key: str, offset: int) -> None:
        self._load()
        self._positions[key] = (max(0, offset), time.time())
        self._dirty = True

    def forget(self, key: str) -> None:
        """The document was heard to its end: next time it starts from the beginning."""
        self._load()
        if self._positions.pop(key, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the positions if they changed (atomically; the oldest beyond the bound go)."""
        if not self._dirty:
            return
        newest = sorted(self._positions.items(), key=lambda item: item[1][1], reverse=True)
        self._positions = dict(newest[: self._max])
        data = {key: {"offset": offset, "at": at} for key, (offset, at) in self._positions.items()}
        try:
            atomic_write(self.path, json.dumps(data, indent=1).encode())
            self._dirty = False
        except OSError as exc:  # a full disk must not stop the narration
            _LOG.warning("Could not save reading positions to %s: %s", self.path, exc)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            _LOG.warning("Ignoring unreadable reading positions in %s: %s", self.path, exc)
            return
        if not isinstance(data, dict):
            return
        for key, entry in data.items():
            if isinstance(entry, dict) and isinstance(entry.get("offset"), int):
                at = entry.get("at")
                self._positions[str(key)] = (entry["offset"], float(at) if at else 0.0)
