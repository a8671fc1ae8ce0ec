"""The worker's expiring sets (dedup, delivered): faust tables whose keys live on disk and expire
by time, across restarts, rebalances and recovery.

Why not faust's windowed tables (faust-streaming 0.15.3): `Collection._maybe_set_key_ttl` adds
every key a windowed table writes to `_partition_timestamp_keys`, a Python set in the worker's
memory, and only that index drives expiry (`_del_old_keys`). So 14 days of event ids live in RAM
(about 1.2 kB per event measured here), and keys that arrive by changelog recovery or that sit in
RocksDB from before a restart are never indexed, hence never expired, on disk or in memory.
faust's RocksDB store also opens each partition with a 2 GiB block cache and 3 x 64 MiB
memtables, so its memory follows the data up to several GiB.

Here a plain (non-windowed) faust `Table` keeps the interface (`key in table`,
`table[key] = bucket`, its changelog, its recovery) over `ExpiringStore`, a subclass of faust's
RocksDB store that writes each key under the time bucket it was written in:
`0x01 ‖ bucket (8 bytes, big-endian) ‖ key`, the bucket being `time // width` with `width` the
window. A lookup reads the current and the previous bucket; `expire` drops every older bucket
with one RocksDB range delete per partition and compacts that range, so a key is remembered for
at least one window and forgotten after at most two, whatever process wrote it. The table's
value is the bucket itself, so a key recovered from the changelog lands in its own bucket (an
already expired one is not written at all). The changelog is compacted and deleted after two
windows (`changelog_config`), so it does not keep what the store has forgotten.

Memory does not follow the keys: the memtables are bounded by `store_options` and flushed at every
expiry run that finds writes in them (a quiet worker holds none, and its WAL stays short); lookups
do not fill the block cache (`uncached_reads`): nearly all of them are misses that the Bloom filter
answers, and the rare data block read (a duplicate, a false positive) comes from the OS page
cache, so a cache filled by them would only grow towards its bound with the events. What stays per
key is RocksDB's index and filter blocks, about 2 bytes.

Writes keep RocksDB's write-ahead log, so a mark survives a SIGKILL of the worker even before
its changelog record reached Kafka. Without it (tried for the CPU of a `write()` per put, about
2 % of a busy worker's) the soak's worker kills sent deliveries again that their subscribers had
answered 0.6-6 ms before the kill (4 in 18 rounds, against 1 in 28 with the log), and normalized
more events twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import faust
import orjson
import rocksdict
from faust.stores import rocksdb as faust_rocksdb
from faust.streams import current_event
from faust.types import EventT
from faust.types.stores import StoreT
from faust.types.topics import TopicT

from pipeline import metrics
from pipeline.contract.changelogs import changelog_config
from pipeline.runtime.faust_hot_path import DirectChangelog

log = logging.getLogger(__name__)
MARK = b"\x01"  # every bucketed key starts with it; faust's offset key (b"__faust…") does not
BUCKET_BYTES = 8


def prefix(bucket: int) -> bytes:
    return MARK + max(bucket, 0).to_bytes(BUCKET_BYTES, "big")


def store_options(cache_bytes: int) -> dict[str, int]:
    """RocksDB options of one table partition: a fixed block cache, small memtables."""
    return {
        "block_cache_size": cache_bytes,
        "block_cache_compressed_size": 0,
        "write_buffer_size": 4 * 1024 * 1024,
        "max_write_buffer_number": 2,
        "target_file_size_base": 16 * 1024 * 1024,
        "bloom_filter_size": 10,  # bits per key: most lookups are misses (new events)
    }


def uncached_reads() -> rocksdict.ReadOptions:
    """Reads that leave the block cache as it is (see the module's docstring)."""
    options = rocksdict.ReadOptions()
    options.fill_cache(False)  # type: ignore[call-arg]  # rocksdict 0.3.29's stub omits `v`
    return options


class ExpiringStore(faust_rocksdb.Store):
    """faust's RocksDB store with keys grouped in time buckets of `width` seconds."""

    def __init__(
        self, *args: Any, width: float, clock: Callable[[], float] = time.time, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.width = width
        self.clock = clock
        self._expired_below: dict[int, int] = {}  # partition → first bucket still kept
        self._to_compact: list[tuple[Any, bytes]] = []  # (db, end) dropped, not yet compacted
        self._rebalanced_at = time.monotonic()
        self._recovered = 0  # changelog records applied since the last rebalance

    def bucket(self) -> int:
        return int(self.clock() // self.width)

    def _open_for_partition(self, partition: int) -> Any:
        db = super()._open_for_partition(partition)
        db.set_read_options(uncached_reads())
        return db

    def _live(self) -> tuple[bytes, bytes]:
        current = self.bucket()
        return prefix(current), prefix(current - 1)

    def _partition_dbs(self) -> Iterable[Any]:
        event = current_event()
        if event is not None:
            return [self._db_for_partition(event.message.partition)]
        return list(self._dbs.values())

    def _get(self, key: bytes) -> bytes | None:
        live = self._live()
        for db in self._partition_dbs():
            for bucket in live:
                value: bytes | None = db.get(bucket + key)
                if value is not None:
                    return value
        return None

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def _set(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self._del(key)
            return
        event = current_event()
        if event is None:  # faust's store cannot place a key without one either
            raise RuntimeError("an expiring table is written inside a stream's event")
        db = self._db_for_partition(event.message.partition)
        db.put(prefix(int(value)) + key, value)

    def _del(self, key: bytes) -> None:
        for db in self._partition_dbs():
            for bucket in self._live():
                db.delete(bucket + key)

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        """Recovery: each key into the bucket its value names; expired ones are skipped."""
        oldest = self.bucket() - 1
        offsets: dict[Any, int] = {}
        for event in batch:
            message = event.message
            offsets[message.tp] = max(message.offset, offsets.get(message.tp, -1))
            self._recovered += 1
            db = self._db_for_partition(message.partition)
            key: bytes = message.key or b""
            if message.value is None:
                for bucket in self._live():
                    db.delete(bucket + key)
            elif (written := int(message.value)) >= oldest:
                db.put(prefix(written) + key, message.value)
        for tp, offset in offsets.items():
            self.set_persisted_offset(tp, offset)

    async def on_rebalance(
        self, assigned: Any, revoked: Any, newly_assigned: Any, generation_id: int = 0
    ) -> None:
        self._rebalanced_at, self._recovered = time.monotonic(), 0
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        """Say how long recovery took and what it read; keys from before it expire at once."""
        await super().on_recovery_completed(active_tps, standby_tps)
        name = self.table_name
        took = time.monotonic() - self._rebalanced_at
        metrics.TABLE_RECOVERY_SECONDS.labels(name).set(took)
        metrics.TABLE_RECOVERED_RECORDS.labels(name).inc(self._recovered)
        log.info(
            "table %s recovered: %d changelog records applied, %.1f s since the rebalance",
            name,
            self._recovered,
            took,
        )
        self.expire()

    def expire(self) -> int:
        """Drop the buckets older than the previous one in every open partition; returns how
        many partitions had something new to drop."""
        keep_from = self.bucket() - 1
        dropped = 0
        for partition, db in list(self._dbs.items()):
            if partition not in self._expired_below:
                # Keys of faust's windowed layout (JSON `[key, [start, end]]`) in a store written
                # before this one: never read, never expired by anything else.
                db.delete_range(b"[", b"\\")
            if self._expired_below.get(partition) == keep_from:
                continue
            db.delete_range(prefix(0), prefix(keep_from))
            self._to_compact.append((db, prefix(keep_from)))
            self._expired_below[partition] = keep_from
            dropped += 1
        return dropped

    async def compact_expired(self) -> None:
        """Reclaim the disk of the ranges `expire` dropped. In a thread: a compaction of a
        window's keys takes seconds (0.5 s for 2 million here), which would stall the event loop
        and its heartbeats; rocksdict releases the GIL meanwhile."""
        while self._to_compact:
            db, end = self._to_compact.pop()
            await asyncio.to_thread(db.compact_range, prefix(0), end)

    async def flush_written(self) -> int:
        """Flush the memtables of every open partition written since the last flush, in a
        thread like `compact_expired`; returns how many were. Between flushes a memtable holds
        at most `write_buffer_size` (RocksDB flushes it then by itself)."""
        flushed = 0
        for db in list(self._dbs.values()):
            if db.property_int_value("rocksdb.num-entries-active-mem-table"):
                await asyncio.to_thread(db.flush)
                flushed += 1
        return flushed

    def oldest_bucket(self) -> int | None:
        """The bucket of the oldest key still held in any open partition."""
        oldest = None
        for db in list(self._dbs.values()):
            iterator = db.iter()
            iterator.seek(MARK)
            if iterator.valid():
                found: bytes = iterator.key()
                if found.startswith(MARK):
                    bucket = int.from_bytes(found[1 : 1 + BUCKET_BYTES], "big")
                    oldest = bucket if oldest is None else min(oldest, bucket)
        return oldest

    def disk_stats(self) -> tuple[int, int]:
        """Estimated keys and bytes (SST files and memtables) over the open partitions."""
        keys = size = 0
        for db in list(self._dbs.values()):
            keys += db.property_int_value("rocksdb.estimate-num-keys") or 0
            size += db.property_int_value("rocksdb.total-sst-files-size") or 0
            size += db.property_int_value("rocksdb.size-all-mem-tables") or 0
        return keys, size

    def _visible_items(self, db: Any) -> Iterator[tuple[bytes, bytes]]:
        oldest = prefix(self.bucket() - 1)
        iterator = db.iter()
        iterator.seek(oldest)
        while iterator.valid():
            key: bytes = iterator.key()
            if not key.startswith(MARK):
                break
            yield key[1 + BUCKET_BYTES :], iterator.value()
            iterator.next()

    def _visible_keys(self, db: Any) -> Iterator[bytes]:
        for key, _ in self._visible_items(db):
            yield key


class ExpiringTable(DirectChangelog, faust.Table[str, int]):
    """A faust table over `ExpiringStore`: values are buckets, set by `add`; its changelog
    records skip faust's producer buffer (`DirectChangelog`: the agents await `changelog_sent`)."""

    def __init__(self, app: faust.App, *, width: float, **kwargs: Any) -> None:
        self.width = width
        super().__init__(app, **kwargs)

    def _new_store_by_url(self, url: Any) -> StoreT[str, int]:
        return ExpiringStore(
            url,
            self.app,
            self,
            width=self.width,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )

    def _new_changelog_topic(
        self,
        *,
        retention: Any = None,
        compacting: bool | None = None,
        deleting: bool | None = None,
    ) -> TopicT:
        return super()._new_changelog_topic(
            retention=2 * self.width, compacting=True, deleting=True
        )

    @property
    def store(self) -> ExpiringStore:
        data = self.data
        if not isinstance(data, ExpiringStore):  # built by `_new_store_by_url`, never else
            raise TypeError(f"table {self.name} is not over an ExpiringStore")
        return data

    def seen(self, key: str) -> bool:
        return self.store._contains(encode_key(key))

    def add(self, key: str) -> None:
        """Remember `key` (inside a stream's event: its partition is the record's). The key and
        value are encoded once, as faust's JSON serializer encodes them, for the store and the
        changelog both; faust's `table[key] = value` encodes each twice through its serializer
        registry (about 15 µs of the worker's CPU per write)."""
        bucket = self.store.bucket()
        if self.app.in_transaction:  # exactly-once keeps offsets until commit: faust's path
            self[key] = bucket
            return
        partition = self.partition_for_key(key)  # faust's check of the source's partitions
        encoded, value = encode_key(key), str(bucket).encode()
        self.store._set(encoded, value)
        self.queue_changelog(partition, encoded, value)


def encode_key(key: str) -> bytes:
    """A key as the tables' JSON key serializer writes it (faust's `json` codec is orjson)."""
    return orjson.dumps(key)


def declare_expiring(
    app: faust.App,
    name: str,
    *,
    width: float,
    partitions: int,
    cache_bytes: int,
    help: str,
) -> ExpiringTable:
    table = ExpiringTable(
        app,
        width=width,
        name=name,
        default=None,
        key_type=str,
        value_type=int,
        partitions=partitions,
        help=help,
        beacon=app.tables.beacon,
        options=store_options(cache_bytes),
        extra_topic_configs=changelog_config(width),
    )
    app.tables.add(table)
    return table


class Expiry:
    """Runs `expire` on the tables now and then, reclaims what it dropped, flushes what was
    written since, and exports the tables' state as metrics."""

    def __init__(self, tables: Mapping[str, ExpiringTable]) -> None:
        self.tables = tables

    async def run(self) -> None:
        for name, table in self.tables.items():
            store = table.store
            started = time.perf_counter()
            dropped = store.expire()
            await store.compact_expired()
            await store.flush_written()
            if dropped:
                log.info(
                    "table %s: expired keys older than %.0f s in %d partition(s) in %.3f s",
                    name,
                    store.width,
                    dropped,
                    time.perf_counter() - started,
                )
            metrics.TABLE_EXPIRY_RUNS.labels(name).set_to_current_time()
            metrics.TABLE_WINDOW.labels(name).set(store.width)
            keys, size = store.disk_stats()
            metrics.TABLE_KEYS.labels(name).set(keys)
            metrics.TABLE_BYTES.labels(name).set(size)
            oldest = store.oldest_bucket()
            age = 0.0 if oldest is None else max(0.0, store.clock() - oldest * store.width)
            metrics.TABLE_OLDEST_KEY_AGE.labels(name).set(age)
