"""pipeline.runtime.expiring_table: keys on disk in time buckets, expired by time whoever wrote
them.

The store is the real one (rocksdict in a temporary data dir) under a faust app that is not
started; a clock stands in for time. The last test shows the upstream behaviour it replaces.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from pipeline.runtime.app import create_app
from pipeline.runtime.expiring_table import ExpiringStore, encode_key, prefix
from pipeline.runtime.faust_fixes import as_current
from pipeline.runtime.tables import declare_tables
from pipeline.settings import load_settings
from tests.support.fake_kafka import RecordProducer

WINDOW = 100.0


class Event:
    """What the store reads of faust's current event: the partition of the record."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Any:
    settings = load_settings(data_dir=tmp_path, app_id="expiring-test", dedup_window=WINDOW)
    tables = declare_tables(create_app(settings), settings)
    built = tables.dedup.store
    built.clock = clock
    return built


def add(store: ExpiringStore, key: str, partition: int = 0) -> None:
    with as_current(Event(partition)):  # type: ignore[arg-type] - what the store reads of it
        store[key] = store.bucket()


def held(store: ExpiringStore, key: str, partition: int = 0) -> bool:
    with as_current(Event(partition)):  # type: ignore[arg-type]
        return key in store


def raw_keys(store: ExpiringStore) -> list[bytes]:
    return [key for db in store._dbs.values() for key in db.keys() if key[:1] == b"\x01"]  # noqa: SIM118 - a rocksdict, not a dict


def test_a_key_is_remembered_for_a_window_and_forgotten_within_two(
    store: ExpiringStore, clock: Clock
) -> None:
    clock.now = 10 * WINDOW + WINDOW - 1  # the last second of its bucket: the worst case
    add(store, "a")
    clock.now += WINDOW  # a full window later
    assert held(store, "a")
    clock.now += WINDOW  # two windows later
    assert not held(store, "a")
    assert not held(store, "b")


def test_expire_drops_old_buckets_from_disk_with_one_range_delete(
    store: ExpiringStore, clock: Clock
) -> None:
    for n in range(100):
        add(store, f"old-{n}", partition=n % 2)
    clock.now += WINDOW
    add(store, "recent")
    clock.now += WINDOW
    assert store.expire() == 2  # both open partitions
    assert store.expire() == 0  # nothing new to drop in the same bucket
    assert len(store._to_compact) == 2  # reclaimed off the event loop, by `compact_expired`
    asyncio.run(store.compact_expired())
    assert store._to_compact == []
    assert [key[9:] for key in raw_keys(store)] == [b'"recent"']
    assert store.oldest_bucket() == store.bucket() - 1
    _, size = store.disk_stats()  # the key estimate is RocksDB's, rough after range deletes
    assert size > 0


def memtable_entries(store: ExpiringStore) -> int:
    return sum(
        db.property_int_value("rocksdb.num-entries-active-mem-table") or 0
        for db in store._dbs.values()
    )


def test_flush_written_empties_the_memtables_of_written_partitions_only(
    store: ExpiringStore,
) -> None:
    for n in range(50):
        add(store, f"k-{n}", partition=n % 2)
    store._db_for_partition(2)  # open, never written
    assert memtable_entries(store) == 50
    assert asyncio.run(store.flush_written()) == 2  # the two written ones
    assert memtable_entries(store) == 0
    assert asyncio.run(store.flush_written()) == 0  # nothing written since
    assert held(store, "k-4")  # now read from the SSTs
    assert held(store, "k-5", partition=1)


KILLED_WRITER = """
import asyncio, os, signal, sys
from pathlib import Path
from types import SimpleNamespace
from faust.types import TP
from pipeline.runtime.app import create_app
from pipeline.runtime.faust_fixes import as_current
from pipeline.settings import load_settings
from pipeline.runtime.tables import declare_tables
from tests.support.fake_kafka import RecordProducer

settings = load_settings(data_dir=Path(sys.argv[1]), app_id="expiring-test", dedup_window=100.0)
store = declare_tables(create_app(settings), settings).dedup.store
topic = TP("expiring-test-dedup-changelog", 0)


class Event:
    message = SimpleNamespace(partition=0)


with as_current(Event()):
    for n in range(200):
        store[f"k-{n}"] = store.bucket()
        store.set_persisted_offset(topic, n)  # as each changelog ack does
        if n == 99:
            asyncio.run(store.flush_written())  # an expiry run
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_worker_keeps_every_write_it_made(tmp_path: Path) -> None:
    """The write-ahead log stays on: a mark whose changelog record had not reached Kafka yet is
    still known after a SIGKILL, so the task read again is not sent again (without the log the
    keys written since the last flush were gone)."""
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], check=False, timeout=60)
    settings = load_settings(data_dir=tmp_path, app_id="expiring-test", dedup_window=WINDOW)
    store = declare_tables(create_app(settings), settings).dedup.store
    assert store.persisted_offset(TP("expiring-test-dedup-changelog", 0)) == 199
    assert all(held(store, f"k-{n}") for n in range(200))


def test_a_stopped_store_keeps_every_write(
    store: ExpiringStore, tmp_path: Path, clock: Clock
) -> None:
    add(store, "kept")
    asyncio.run(store.stop())
    settings = load_settings(data_dir=tmp_path, app_id="expiring-test", dedup_window=WINDOW)
    reopened = declare_tables(create_app(settings), settings).dedup.store
    reopened.clock = clock
    assert held(reopened, "kept")


def test_lookups_leave_the_block_cache_alone(store: ExpiringStore) -> None:
    """Misses and hits alike: a cache they filled would grow with the keys up to its bound."""
    for n in range(2000):
        add(store, f"k-{n}")
    asyncio.run(store.flush_written())
    db = store._db_for_partition(0)
    before = db.property_int_value("rocksdb.block-cache-usage")
    assert all(held(store, f"k-{n}") for n in range(0, 2000, 7))
    assert not any(held(store, f"new-{n}") for n in range(500))
    assert db.property_int_value("rocksdb.block-cache-usage") == before


def test_a_recovered_key_lands_in_its_bucket_and_an_expired_one_is_not_written(
    store: ExpiringStore, clock: Clock
) -> None:
    """Keys that arrive by changelog recovery expire like the others (faust never expired
    those of a windowed table)."""
    current = store.bucket()
    tp = TP("expiring-test-dedup-changelog", 1)

    def record(key: bytes, value: bytes | None, offset: int) -> Any:
        message = SimpleNamespace(tp=tp, partition=1, offset=offset, key=key, value=value)
        return SimpleNamespace(message=message)

    batch = [
        record(b'"fresh"', str(current).encode(), 7),
        record(b'"stale"', str(current - 5).encode(), 8),
        record(b'"gone"', str(current).encode(), 9),
        record(b'"gone"', None, 10),
    ]
    store.apply_changelog_batch(batch, to_key=lambda k: k, to_value=lambda v: v)
    assert held(store, "fresh", partition=1)
    assert not held(store, "stale", partition=1)
    assert not held(store, "gone", partition=1)
    assert store.persisted_offset(tp) == 10
    assert raw_keys(store) == [prefix(current) + b'"fresh"']
    clock.now += 2 * WINDOW
    store.expire()
    assert raw_keys(store) == []


@pytest.mark.parametrize(
    "key", ["msg_2J3kL9xY", "/instances/i1 e1", 'a "quoted" \\ key', "ünï cødé ✓"]
)
async def test_a_write_is_encoded_once_as_fausts_serializers_encode_it(
    tmp_path: Path, clock: Clock, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`add` and `seen` skip faust's serializer registry: the store and changelog must hold
    what faust's `table[key] = bucket` would have written, so stores and changelogs written
    before, and faust's own reads, agree."""
    settings = load_settings(data_dir=tmp_path, app_id="expiring-test", dedup_window=WINDOW)
    table = declare_tables(create_app(settings), settings).dedup
    table.store.clock = clock
    table._verified_source_topics_for_partitions.add("webhooks.raw")
    producer = RecordProducer()
    monkeypatch.setattr(table.app.producer, "_producer", producer)
    bucket = table.store.bucket()
    assert encode_key(key) == table.store._encode_key(key)
    assert str(bucket).encode() == table.store._encode_value(bucket)
    with as_current(Source("webhooks.raw", 3)):  # type: ignore[arg-type]
        assert not table.seen(key)
        table.add(key)
        assert table.seen(key)
        assert key in table  # read through faust's own path
    await table.changelog_sent()
    topic = table.changelog_topic_name
    encoded = (table.store._encode_key(key), table.store._encode_value(bucket))
    assert producer.sent == [(topic, *encoded, 3)]


class Source:
    """What a table write reads of faust's current event: the record's topic and partition."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = SimpleNamespace(topic=topic, partition=partition)


def test_iteration_shows_the_live_keys_without_their_buckets(
    store: ExpiringStore, clock: Clock
) -> None:
    add(store, "old")
    clock.now += 2 * WINDOW
    add(store, "new")
    assert list(store._visible_keys(store._db_for_partition(0))) == [b'"new"']


def test_keys_of_faust_windowed_layout_are_dropped_once(store: ExpiringStore) -> None:
    """A store written by faust's windowed tables before: its keys would never expire."""
    db = store._db_for_partition(0)
    db.put(b'["/instances/i1 e1", [0.0, 100.0]]', b"1")
    store.set_persisted_offset(TP("expiring-test-dedup-changelog", 0), 41)
    add(store, "kept")
    store.expire()
    assert [key for key in db.keys() if key[:1] == b"["] == []  # noqa: SIM118 - a rocksdict
    assert held(store, "kept")
    assert store.persisted_offset(TP("expiring-test-dedup-changelog", 0)) == 41


def test_faust_windowed_tables_index_every_key_in_memory(tmp_path: Path) -> None:
    """The upstream behaviour this module replaces (faust-streaming 0.15.3): a windowed table
    with `expires` adds each key it writes to `_partition_timestamp_keys`, a set in memory; the
    expiring table keeps no such index."""
    settings = load_settings(data_dir=tmp_path, app_id="windowed-test", dedup_window=WINDOW)
    app = create_app(settings)
    windowed = app.Table("w", default=int, partitions=1).tumbling(WINDOW, expires=2 * WINDOW)
    table = windowed.table
    for n in range(1000):
        table._maybe_set_key_ttl((f"k{n}", (0.0, WINDOW)), 0)
    assert sum(len(keys) for keys in table._partition_timestamp_keys.values()) == 1000
    ours = declare_tables(app, settings).dedup
    assert not ours._should_expire_keys()  # so `_maybe_set_key_ttl` never indexes a key
