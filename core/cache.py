"""The synthesized-audio cache: speech already paid for is not synthesized (or billed) again.

One SQLite file (``cache_dir()/"audio.sqlite3"``) holds PCM blobs keyed by a SHA-256 of
everything that decides what the audio sounds like (:meth:`AudioCache.key`). Blobs rather than
one file per entry: a single file is one thing to bound, clear, set aside or back up, and a
put with its eviction is one atomic transaction instead of a directory that can drift from its
index after a crash.

**Bounded.** The sum of the stored sizes (PCM plus alignment text) stays at or below
``max_bytes``: after a put that goes over, the least recently used entries are deleted in the
same transaction. The running total lives in a ``meta`` row updated with every change, so a put
never has to ``SUM()`` a 500 MB table. ``last_used`` is a nanosecond timestamp made strictly
increasing within a process, so the eviction order is exact even for calls in the same clock
tick. An entry bigger than the whole cache is not stored. The file itself is somewhat larger
than ``max_bytes`` (SQLite pages and the index); freed pages are reused, and given back to the
file system by :meth:`~AudioCache.clear`.

**Never fatal.** The cache only saves time, so nothing in it may stop speech. A file that is
not SQLite, has a schema version this code does not know or turns out to be corrupt while in
use is renamed aside (``audio.sqlite3.corrupt-<timestamp>``, only the latest one is kept) and
a fresh cache started. A cache directory that cannot be written falls back to a cache in
memory for the session. Any other database failure (disk full, locked by another process for
too long) makes that one call a miss or a skipped put. Each case is reported once, as a plain
sentence, through ``on_warning`` (the tray shows it), or to the log if no callback was given.

**Threads.** A connection must not be used by two threads at once, and disk I/O must not run on
the event loop: the ``a``-prefixed coroutines run the calls on one dedicated worker thread,
which also serialises them. The synchronous methods take the same lock, so mixing the two is
safe (but blocks the caller). WAL journaling lets another VoxTray process (the CLI next to the
tray app) read while this one writes. Hit and miss counters belong to this process only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, TypeVar

from .paths import PRIVATE_FILE_MODE, cache_dir, ensure_dir

__all__ = ["DEFAULT_MAX_BYTES", "FILE_NAME", "AudioCache", "CacheStats", "CachedAudio"]

log = logging.getLogger(__name__)

FILE_NAME: Final = "audio.sqlite3"
DEFAULT_MAX_BYTES: Final = 500 * 1024**2
SCHEMA_VERSION: Final = 1
"""Stored in ``PRAGMA user_version``; any other non-zero value means the file is set aside."""
KEY_VERSION: Final = 1
"""Part of every key: changing what goes into a key changes this, so old entries just miss."""

_CORRUPTION_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)
_EVICTION_BATCH = 64

_SCHEMA = """
CREATE TABLE audio (
    key         TEXT PRIMARY KEY,
    pcm         BLOB NOT NULL,
    sample_rate INTEGER NOT NULL,
    alignment   TEXT,
    size        INTEGER NOT NULL,
    last_used   INTEGER NOT NULL
);
CREATE INDEX audio_by_last_used ON audio (last_used);
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (name, value) VALUES ('total_bytes', 0);
"""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CachedAudio:
    """A cache hit: signed 16-bit little-endian mono PCM, its rate, and its alignment JSON."""

    pcm: bytes
    sample_rate: int
    alignment: str | None = None


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What ``voxtray stats`` and the stats window show about the cache."""

    entries: int
    bytes: int
    """Stored PCM and alignment bytes (the file is somewhat larger)."""
    max_bytes: int
    hits: int
    """Hits in this process."""
    misses: int
    """Misses in this process."""
    path: Path


class AudioCache:
    """A size-bounded LRU cache of synthesized audio in one SQLite file.

    ``on_warning`` receives a user-facing sentence when the cache had to be reset or could not
    do its job; it is called on whatever thread the call runs on (the cache's worker thread
    for the async methods), so a UI must hop back to its own thread.
    """

    def __init__(
        self,
        path: Path | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes cannot be negative")
        self.path = path if path is not None else cache_dir() / FILE_NAME
        self.max_bytes = max_bytes
        self._on_warning = on_warning
        self._warned: set[str] = set()
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._hits = 0
        self._misses = 0
        self._clock = 0
        self._closed = False
        self._conn = self._open()
        self._flush_warnings()

    # --- keys ----------------------------------------------------------------------------------

    @staticmethod
    def key(
        *,
        provider: str,
        voice: str,
        model: str,
        settings: Mapping[str, object],
        audio_format: str,
        text: str,
        context: str,
    ) -> str:
        """A stable key for one synthesis: SHA-256 (hex) of a canonical JSON of its parts.

        Canonical means sorted keys (settings included), no whitespace and UTF-8 text, so the
        same request gives the same key in every process and Python version. Settings values
        must be JSON values (str, int, float, bool, None, lists and mappings of them); note
        that ``1`` and ``1.0`` are different values here, as they may be to a provider.
        """
        parts = {
            "v": KEY_VERSION,
            "provider": provider,
            "voice": voice,
            "model": model,
            "settings": dict(settings),
            "audio_format": audio_format,
            "text": text,
            "context": context,
        }
        try:
            canonical = json.dumps(
                parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cache key settings must be plain JSON values: {exc}") from exc
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # --- the synchronous API -------------------------------------------------------------------

    def get(self, key: str) -> CachedAudio | None:
        """The audio stored under ``key`` (marking it as just used), or ``None``."""

        def read(conn: sqlite3.Connection) -> CachedAudio | None:
            row = conn.execute(
                "SELECT pcm, sample_rate, alignment FROM audio WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE audio SET last_used = ? WHERE key = ?", (self._tick(), key))
            return CachedAudio(bytes(row[0]), int(row[1]), row[2])

        found = self._run(read, None, "read from")
        with self._lock:
            if found is None:
                self._misses += 1
            else:
                self._hits += 1
        return found

    def put(self, key: str, pcm: bytes, sample_rate: int, alignment: str | None = None) -> None:
        """Store audio under ``key`` (replacing what was there), then evict down to the bound.

        Audio larger than the whole cache is not stored.
        """
        if sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        blob = bytes(pcm)
        size = len(blob) + (len(alignment.encode("utf-8")) if alignment is not None else 0)
        if size > self.max_bytes:
            return

        def write(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                old = conn.execute("SELECT size FROM audio WHERE key = ?", (key,)).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO audio"
                    " (key, pcm, sample_rate, alignment, size, last_used)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (key, blob, sample_rate, alignment, size, self._tick()),
                )
                total = _add_total(conn, size - (old[0] if old else 0))
                if total > self.max_bytes:
                    _evict(conn, total - self.max_bytes)

        self._run(write, None, "write to")

    @property
    def hits(self) -> int:
        """Lookups answered from the cache in this process (no disk access to read it)."""
        return self._hits

    @property
    def misses(self) -> int:
        return self._misses

    def stats(self) -> CacheStats:
        """Entries, stored bytes and this process's hits and misses."""

        def count(conn: sqlite3.Connection) -> tuple[int, int]:
            (entries,) = conn.execute("SELECT COUNT(*) FROM audio").fetchone()
            return int(entries), _total(conn)

        entries, stored = self._run(count, (0, 0), "read from")
        with self._lock:
            hits, misses = self._hits, self._misses
        return CacheStats(entries, stored, self.max_bytes, hits, misses, self.path)

    def clear(self) -> int:
        """Delete every entry and give the space back to the file system; how many there were."""

        def wipe(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                removed = conn.execute("DELETE FROM audio").rowcount
                conn.execute("UPDATE meta SET value = 0 WHERE name = 'total_bytes'")
            # The pragma frees one page per step of its statement, and execute() steps once:
            # executescript() runs it to the end. The checkpoint then moves the shrunken file
            # out of the WAL and truncates both.
            conn.executescript("PRAGMA incremental_vacuum;")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return int(removed)

        return self._run(wipe, 0, "clear")

    def close(self) -> None:
        """Finish pending async calls, then close the database. Idempotent."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> AudioCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the async API -------------------------------------------------------------------------

    async def aget(self, key: str) -> CachedAudio | None:
        """:meth:`get` on the cache's worker thread."""
        return await self._in_worker(self.get, key)

    async def aput(
        self, key: str, pcm: bytes, sample_rate: int, alignment: str | None = None
    ) -> None:
        """:meth:`put` on the cache's worker thread."""
        await self._in_worker(self.put, key, pcm, sample_rate, alignment)

    async def astats(self) -> CacheStats:
        """:meth:`stats` on the cache's worker thread."""
        return await self._in_worker(self.stats)

    async def aclear(self) -> int:
        """:meth:`clear` on the cache's worker thread."""
        return await self._in_worker(self.clear)

    async def aclose(self) -> None:
        """:meth:`close` without blocking the loop: queued calls finish first."""
        executor = self._executor
        if executor is not None:
            # Runs after everything already queued; the executor is then idle, so the
            # shutdown below joins a thread that has nothing left to do.
            await asyncio.get_running_loop().run_in_executor(executor, _noop)
        self.close()

    async def __aenter__(self) -> AudioCache:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _in_worker(self, func: Callable[..., _T], *args: object) -> _T:
        if self._closed:
            raise RuntimeError("the audio cache is closed")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxtray-cache")
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    # --- internals -----------------------------------------------------------------------------

    def _tick(self) -> int:
        """A last-used stamp: wall-clock nanoseconds, strictly increasing in this process."""
        self._clock = max(time.time_ns(), self._clock + 1)
        return self._clock

    def _run(self, op: Callable[[sqlite3.Connection], _T], fallback: _T, doing: str) -> _T:
        """Run ``op`` under the lock; a database failure becomes a warning and ``fallback``."""
        try:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the audio cache is closed")
                try:
                    return op(self._conn)
                except sqlite3.DatabaseError as exc:
                    if _is_corruption(exc):
                        self._conn.close()
                        self._conn = self._reset(f"it was damaged ({exc})")
                    else:
                        self._warn(f"Could not {doing} the audio cache at {self.path} ({exc}).")
                    return fallback
        finally:
            self._flush_warnings()  # outside the lock: the callback may call back into us

    def _open(self) -> sqlite3.Connection:
        """Open (or create) the database; set a bad one aside; fall back to memory."""
        try:
            ensure_dir(self.path.parent)
            _create_private(self.path)
            conn = _connect(self.path)
        except (OSError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and _is_corruption(exc):
                return self._reset(f"the file is not a usable database ({exc})")
            return self._in_memory(exc)
        try:
            problem = _check_schema(conn)
            if problem is None:
                self._clock = _latest_use(conn)  # reads the index: meets damage early
                return conn
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                conn.close()
                return self._in_memory(exc)
            problem = f"the file is not a usable database ({exc})"
        conn.close()
        return self._reset(problem)

    def _reset(self, problem: str) -> sqlite3.Connection:
        """Set the database file aside and start an empty one in its place."""
        try:
            aside = _set_aside(self.path)
            _create_private(self.path)
            conn = _connect(self.path)
            if _check_schema(conn) is not None:  # a fresh file always passes
                raise sqlite3.DatabaseError("a new cache file could not be initialised")
        except (OSError, sqlite3.DatabaseError) as exc:
            return self._in_memory(exc)
        self._clock = 0
        self._warn(
            f"The audio cache was reset because {problem}; the old file was kept as {aside.name}."
        )
        return conn

    def _in_memory(self, exc: BaseException) -> sqlite3.Connection:
        self._warn(
            f"The audio cache at {self.path} cannot be used ({exc}); "
            "speech is cached in memory until the app quits."
        )
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.executescript(_SCHEMA)
        return conn

    def _warn(self, message: str) -> None:
        """Queue a warning, once per distinct message (a full disk would repeat on every put)."""
        if message not in self._warned:
            self._warned.add(message)
            self._pending.append(message)

    def _flush_warnings(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for message in pending:
            if self._on_warning is not None:
                self._on_warning(message)
            else:
                log.warning("%s", message)


def _noop() -> None:
    pass


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so the read-modify-write of the running total
    cannot interleave with another process's put.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; _transaction says where they are.
    # check_same_thread=False: the lock in AudioCache, not the creating thread, guards it.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: may lose a put, never corrupt
    except BaseException:
        conn.close()
        raise
    return conn


def _check_schema(conn: sqlite3.Connection) -> str | None:
    """Create the schema in an empty file; say what is wrong with a file we cannot use."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if {"audio", "meta"} <= tables:
            return None
        return "its tables are missing"
    if version != 0:
        return f"it has schema version {version}, not {SCHEMA_VERSION}"
    if _object_count(conn):
        return "it holds something other than an audio cache"
    # auto_vacuum must be set before the first table exists; it lets clear() shrink the file.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("VACUUM")  # applies auto_vacuum to the empty file
    with _transaction(conn):
        # Checked again under the write lock: another process may have just created it.
        if _object_count(conn) == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return None


def _object_count(conn: sqlite3.Connection) -> int:
    (objects,) = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return int(objects)


def _latest_use(conn: sqlite3.Connection) -> int:
    (latest,) = conn.execute("SELECT COALESCE(MAX(last_used), 0) FROM audio").fetchone()
    return int(latest)


def _total(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name = 'total_bytes'").fetchone()
    return int(row[0]) if row else 0


def _add_total(conn: sqlite3.Connection, delta: int) -> int:
    conn.execute("UPDATE meta SET value = value + ? WHERE name = 'total_bytes'", (delta,))
    return _total(conn)


def _evict(conn: sqlite3.Connection, excess: int) -> None:
    """Delete least recently used entries until ``excess`` bytes are gone (inside a put)."""
    freed = 0
    while freed < excess:
        rows = conn.execute(
            "SELECT key, size FROM audio ORDER BY last_used LIMIT ?", (_EVICTION_BATCH,)
        ).fetchall()
        if not rows:
            break
        victims: list[tuple[str]] = []
        for key, size in rows:
            victims.append((key,))
            freed += size
            if freed >= excess:
                break
        conn.executemany("DELETE FROM audio WHERE key = ?", victims)
    _add_total(conn, -freed)


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _CORRUPTION_CODES
    return type(exc) is sqlite3.DatabaseError  # no code: "file is not a database" and friends


def _create_private(path: Path) -> None:
    """Create the database file ``0600`` before SQLite does (it would use the umask).

    SQLite gives its -wal and -shm files the mode of the database file, so all three are
    private: they hold what the user had read aloud.
    """
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    os.close(fd)


def _set_aside(path: Path) -> Path:
    """Rename the database (and its WAL files) to ``<name>.corrupt-<timestamp>``.

    Only the newest set-aside copy is kept: each may be as big as the whole cache, and a
    machine whose disk keeps corrupting files would otherwise fill up with them.
    """
    for old in path.parent.glob(f"{path.name}.corrupt-*"):
        old.unlink(missing_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            if suffix == "-wal":
                os.replace(companion, aside.with_name(aside.name + suffix))
            else:
                companion.unlink()
    return aside
