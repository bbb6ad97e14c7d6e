"""The audio cache: keys, LRU eviction under a byte bound, persistence, recovery, async use."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import sys
import tempfile
import threading
from collections import OrderedDict
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from voxtray.core.cache import FILE_NAME, AudioCache, CachedAudio

KEY_PARTS: dict[str, Any] = {
    "provider": "elevenlabs",
    "voice": "JBFqnCBsd6RMkjVDRZzb",
    "model": "eleven_flash_v2_5",
    "settings": {"stability": 0.5, "speed": 1.1},
    "audio_format": "pcm_22050",
    "text": "Hello, world.",
    "context": "Before.",
}


def pcm(size: int, fill: int = 1) -> bytes:
    return bytes([fill % 256]) * size


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cache" / FILE_NAME


@pytest.fixture
def warnings_seen() -> list[str]:
    return []


def open_cache(
    path: Path, max_bytes: int = 10_000, warnings: list[str] | None = None
) -> AudioCache:
    return AudioCache(path, max_bytes, on_warning=None if warnings is None else warnings.append)


def stored_sum(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        (total,) = conn.execute("SELECT COALESCE(SUM(size), 0) FROM audio").fetchone()
    return int(total)


# --- round trip --------------------------------------------------------------------------------


def test_round_trip_and_counters(db: Path) -> None:
    with open_cache(db) as cache:
        assert cache.get("k") is None
        cache.put("k", pcm(100), 22050, alignment='{"chars": ["a"]}')
        cache.put("plain", pcm(10), 44100)
        assert cache.get("k") == CachedAudio(pcm(100), 22050, '{"chars": ["a"]}')
        assert cache.get("plain") == CachedAudio(pcm(10), 44100, None)
        stats = cache.stats()
    assert (stats.entries, stats.hits, stats.misses, stats.path) == (2, 2, 1, db)
    assert stats.bytes == 100 + len('{"chars": ["a"]}') + 10
    assert stats.max_bytes == 10_000


def test_replacing_an_entry_keeps_the_total_right(db: Path) -> None:
    with open_cache(db) as cache:
        cache.put("k", pcm(100), 22050)
        cache.put("k", pcm(40, 2), 16000)
        assert cache.get("k") == CachedAudio(pcm(40, 2), 16000)
        assert cache.stats().bytes == 40 == stored_sum(db)


def test_audio_bigger_than_the_cache_is_not_stored(db: Path) -> None:
    with open_cache(db, max_bytes=100) as cache:
        cache.put("small", pcm(60), 22050)
        cache.put("huge", pcm(101), 22050)
        assert cache.get("huge") is None
        assert cache.get("small") is not None  # nothing was evicted for it


def test_files_are_private(db: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX modes")
    with open_cache(db) as cache:
        cache.put("k", pcm(10), 22050)
        for path in db.parent.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


# --- keys --------------------------------------------------------------------------------------


def test_key_is_stable() -> None:
    # A fixed value: a key that changed between releases would silently empty every cache.
    expected = "e9e35917f74562f489696f0895fc3d6548ed0493eab80cd07e79ccca92f1440e"
    assert AudioCache.key(**KEY_PARTS) == expected
    reordered = {**KEY_PARTS, "settings": {"speed": 1.1, "stability": 0.5}}
    assert AudioCache.key(**reordered) == expected


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("provider", "piper"),
        ("voice", "other"),
        ("model", "eleven_multilingual_v2"),
        ("settings", {"stability": 0.6, "speed": 1.1}),
        ("settings", {"stability": 0.5}),
        ("settings", {"stability": 0.5, "speed": 1.1, "style": 0}),
        ("audio_format", "pcm_44100"),
        ("text", "Hello, world!"),
        ("context", ""),
    ],
)
def test_every_part_changes_the_key(part: str, value: object) -> None:
    assert AudioCache.key(**{**KEY_PARTS, part: value}) != AudioCache.key(**KEY_PARTS)


def test_parts_cannot_run_into_each_other() -> None:
    a = AudioCache.key(**{**KEY_PARTS, "text": "ab", "context": "c"})
    b = AudioCache.key(**{**KEY_PARTS, "text": "a", "context": "bc"})
    assert a != b


def test_settings_must_be_json_values() -> None:
    with pytest.raises(TypeError, match="JSON"):
        AudioCache.key(**{**KEY_PARTS, "settings": {"when": object()}})
    with pytest.raises(TypeError, match="JSON"):
        AudioCache.key(**{**KEY_PARTS, "settings": {"x": float("nan")}})


# --- eviction ----------------------------------------------------------------------------------


def test_least_recently_used_goes_first(db: Path) -> None:
    with open_cache(db, max_bytes=300) as cache:
        for name in "abc":
            cache.put(name, pcm(100), 22050)
        assert cache.get("a") is not None  # a is now the most recent; b the least
        cache.put("d", pcm(100), 22050)
        assert cache.get("b") is None
        assert all(cache.get(name) is not None for name in "acd")
        cache.put("e", pcm(250), 22050)  # needs room of three entries at once
        assert [name for name in "acde" if cache.get(name) is not None] == ["e"]
        assert cache.stats().bytes == 250 == stored_sum(db)


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 7), st.integers(0, 120)),
        st.tuples(st.just("get"), st.integers(0, 7), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops=_ops, max_bytes=st.integers(0, 300))
def test_matches_a_reference_lru(ops: list[tuple[str, int, int]], max_bytes: int) -> None:
    model: OrderedDict[str, int] = OrderedDict()  # key -> size, least recent first
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FILE_NAME
        with open_cache(path, max_bytes=max_bytes) as cache:
            for op, n, size in ops:
                key = f"k{n}"
                if op == "put":
                    cache.put(key, pcm(size, n), 8000)
                    if size <= max_bytes:
                        model.pop(key, None)
                        model[key] = size
                        while sum(model.values()) > max_bytes:
                            model.popitem(last=False)
                else:
                    found = cache.get(key)
                    assert (found is not None) == (key in model)
                    if found is not None:
                        assert len(found.pcm) == model[key]
                        model.move_to_end(key)
                stats = cache.stats()
                assert stats.bytes == sum(model.values()) <= max_bytes
                assert stats.entries == len(model)
            assert stored_sum(path) == sum(model.values())


# --- persistence, clear ------------------------------------------------------------------------


def test_entries_and_their_order_survive_a_reopen(db: Path) -> None:
    with open_cache(db, max_bytes=200) as cache:
        cache.put("old", pcm(100), 22050)
        cache.put("new", pcm(100), 22050)
        assert cache.get("old") is not None  # now "new" is the least recently used
    with open_cache(db, max_bytes=200) as cache:
        stats = cache.stats()
        assert (stats.entries, stats.bytes, stats.hits, stats.misses) == (2, 200, 0, 0)
        cache.put("newest", pcm(100), 22050)
        assert cache.get("new") is None
        assert cache.get("old") == CachedAudio(pcm(100), 22050)


def test_clear(db: Path) -> None:
    with open_cache(db, max_bytes=10**7) as cache:
        for i in range(20):
            cache.put(f"k{i}", pcm(100_000, i), 22050)
        wal = db.with_name(db.name + "-wal")
        before = db.stat().st_size + wal.stat().st_size
        assert cache.clear() == 20
        assert cache.stats().entries == 0 and cache.stats().bytes == 0
        assert cache.get("k0") is None
        assert cache.clear() == 0
        cache.put("again", pcm(10), 22050)
        assert cache.get("again") is not None
        assert db.stat().st_size + wal.stat().st_size < before / 10  # space given back


# --- damaged files -----------------------------------------------------------------------------


def _asides(db: Path) -> list[Path]:
    return sorted(p for p in db.parent.glob(f"{db.name}.corrupt-*") if not p.name.endswith("wal"))


def test_a_file_that_is_not_sqlite_is_set_aside(db: Path, warnings_seen: list[str]) -> None:
    db.parent.mkdir(parents=True)
    garbage = b"this is not a database, it is a shopping list\n" * 100
    db.write_bytes(garbage)
    with open_cache(db, warnings=warnings_seen) as cache:
        cache.put("k", pcm(10), 22050)
        assert cache.get("k") is not None
    (aside,) = _asides(db)
    assert aside.read_bytes() == garbage
    assert (
        len(warnings_seen) == 1 and "reset" in warnings_seen[0] and aside.name in warnings_seen[0]
    )


@pytest.mark.parametrize(
    "setup",
    [
        "PRAGMA user_version = 99",
        "CREATE TABLE notes (body TEXT)",
        "PRAGMA user_version = 1",  # the right version but no tables
    ],
    ids=["future-version", "someone-elses-db", "missing-tables"],
)
def test_a_database_of_another_shape_is_set_aside(
    db: Path, warnings_seen: list[str], setup: str
) -> None:
    db.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(setup)
        conn.commit()
    with open_cache(db, warnings=warnings_seen) as cache:
        cache.put("k", pcm(10), 22050)
        assert cache.get("k") is not None
    assert len(_asides(db)) == 1
    assert len(warnings_seen) == 1


def test_only_the_latest_aside_is_kept(db: Path, warnings_seen: list[str]) -> None:
    db.parent.mkdir(parents=True)
    old = db.with_name(f"{db.name}.corrupt-20200101T000000")
    old.write_bytes(b"an older wreck")
    db.write_bytes(b"garbage" * 100)
    open_cache(db, warnings=warnings_seen).close()
    (aside,) = _asides(db)
    assert aside != old and aside.read_bytes() == b"garbage" * 100


def test_damage_found_while_in_use_resets_the_cache(db: Path, warnings_seen: list[str]) -> None:
    with open_cache(db, max_bytes=10**7) as cache:
        for i in range(50):
            cache.put(f"k{i}", pcm(20_000, i), 22050)
    with open_cache(db, max_bytes=10**7, warnings=warnings_seen) as cache:
        assert warnings_seen == []  # the file opened fine
        # Now overwrite everything after the first pages (the schema) with noise.
        size = db.stat().st_size
        with db.open("r+b") as stream:
            stream.seek(16_384)
            stream.write(bytes(range(256)) * ((size - 16_384) // 256))
        for i in range(50):
            cache.get(f"k{i}")  # some of these meet the damage; none raises
        cache.put("fresh", pcm(10), 22050)
        assert cache.get("fresh") == CachedAudio(pcm(10), 22050)
        assert cache.stats().bytes == stored_sum(db)
    assert len(_asides(db)) == 1
    assert any("damaged" in w for w in warnings_seen)


def test_an_unusable_directory_falls_back_to_memory(
    tmp_path: Path, warnings_seen: list[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    with open_cache(blocker / FILE_NAME, warnings=warnings_seen) as cache:
        cache.put("k", pcm(10), 22050)
        assert cache.get("k") is not None
    assert len(warnings_seen) == 1 and "in memory" in warnings_seen[0]


def test_the_warning_callback_may_use_the_cache(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 100)
    seen: list[int] = []
    cache: AudioCache | None = None

    def on_warning(message: str) -> None:
        if cache is not None:
            seen.append(cache.stats().entries)  # would deadlock if called under the lock

    cache = AudioCache(db, on_warning=on_warning)
    with cache:
        cache.put("k", pcm(10), 22050)
        cache._conn.close()  # simulate a failure on the next call
        cache._conn = sqlite3.connect(":memory:", check_same_thread=False)
        assert cache.get("k") is None  # "no such table": a warning, and a miss
    assert seen == [0]


# --- async -------------------------------------------------------------------------------------


async def test_concurrent_tasks_share_the_cache(db: Path) -> None:
    threads: set[str] = set()
    loop_thread = threading.current_thread().name
    cache = open_cache(db, max_bytes=10**7)
    original_get = cache.get

    def recording_get(key: str) -> CachedAudio | None:
        threads.add(threading.current_thread().name)
        return original_get(key)

    cache.get = recording_get

    async def worker(n: int) -> None:
        for i in range(20):
            key = f"w{n}-{i}"
            await cache.aput(key, pcm(100 + i, n), 22050)
            assert await cache.aget(key) == CachedAudio(pcm(100 + i, n), 22050)
            await asyncio.sleep(0)

    async with cache:
        async with asyncio.TaskGroup() as group:
            for n in range(8):
                group.create_task(worker(n))
        stats = await cache.astats()
        assert stats.entries == 160 and stats.hits == 160
        assert await cache.aclear() == 160
    assert len(threads) == 1 and loop_thread not in threads
    with pytest.raises(RuntimeError, match="closed"):
        await cache.aget("w0-0")
    cache.close()  # idempotent


async def test_aclose_waits_for_queued_writes(db: Path) -> None:
    cache = open_cache(db, max_bytes=10**7)
    writes = [asyncio.ensure_future(cache.aput(f"k{i}", pcm(1000), 22050)) for i in range(30)]
    await asyncio.sleep(0)  # all are queued on the worker thread now
    await cache.aclose()
    await asyncio.gather(*writes)
    with open_cache(db, max_bytes=10**7) as reopened:
        assert reopened.stats().entries == 30
