"""`python -m bench.state.worker TOPIC PROGRESS [--every N] [--total N]`: the table layer alone.

A subprocess of `python -m bench state` (bench/state/main.py), configured by `PIPELINE_*` like the
worker. It runs the real faust app (`pipeline.runtime.app.create_app`), the real tables
(`pipeline.runtime.tables.declare_tables`: store, changelog, recovery) and the worker's expiry
timer, with one agent instead of the pipeline's: it reads TOPIC, whose records each carry a batch of
dedup keys (one per line, `bench.state.figures.key_batch`), and for each key does what the normalize
agent does with an event id, inside `as_current(event)`: `dedup.seen(key)`, then `dedup.add(key)`.
No HTTP, no other topic.

Every N keys (and at the total) it appends one JSON line to PROGRESS, sampled then in this
process: its VmRSS, Python's allocated blocks, the dedup table's bytes on disk (du of its RocksDB
directories) and the RocksDB properties that hold memory (memtables, block cache, index and filter
readers).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import faust
import orjson
import uvloop
from faust.types import StreamT

from bench.procstat import malloc_stats, rss_kib
from bench.state.figures import SOURCE_BUFFER_RECORDS, sample_due, split_keys
from pipeline.agents import expiry_interval
from pipeline.contract.changelogs import TABLE_SOURCES
from pipeline.contract.topics import topic_spec
from pipeline.runtime.app import create_app
from pipeline.runtime.expiring_table import ExpiringTable
from pipeline.runtime.faust_fixes import as_current
from pipeline.runtime.tables import declare_tables
from pipeline.runtime.worker import run_worker
from pipeline.settings import Settings, load_settings

# RocksDB properties summed over the table's partitions: where a RocksDB's memory goes.
MEMORY_PROPERTIES = (
    "rocksdb.cur-size-all-mem-tables",
    "rocksdb.block-cache-usage",
    "rocksdb.estimate-table-readers-mem",
)


def disk_bytes(table: ExpiringTable) -> int:
    """Bytes of the files in the table's open partitions' RocksDB directories (du)."""
    store = table.store
    total = 0
    for partition in list(store._dbs):  # faust's store keeps no other list of them
        path = store.partition_path(partition)
        if path.is_dir():
            total += sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())
    return total


def sample(table: ExpiringTable, keys: int, started: float) -> dict[str, Any]:
    """One progress line: the process's memory and the table's state after `keys` keys."""
    store = table.store
    properties = dict.fromkeys(MEMORY_PROPERTIES, 0)
    for db in list(store._dbs.values()):
        for name in MEMORY_PROPERTIES:
            properties[name] += db.property_int_value(name) or 0
    estimated_keys, table_bytes = store.disk_stats()
    return {
        "keys": keys,
        "seconds": round(time.monotonic() - started, 2),
        "rss_kib": rss_kib(),
        "python_blocks": sys.getallocatedblocks(),
        **malloc_stats(),
        "disk_bytes": disk_bytes(table),
        "table_keys_estimate": estimated_keys,
        "table_bytes": table_bytes,  # `pipeline_table_bytes`: SST files + memtables
        **{name.removeprefix("rocksdb."): value for name, value in properties.items()},
    }


def traced(baseline: tracemalloc.Snapshot | None, top: int = 8) -> dict[str, Any]:
    """Python's traced memory and, with a `baseline`, the allocation sites that grew most since
    (only while tracemalloc runs: `--tracemalloc`)."""
    current, peak = tracemalloc.get_traced_memory()
    found: dict[str, Any] = {"traced_bytes": current, "traced_peak_bytes": peak}
    if baseline is not None:
        grown = tracemalloc.take_snapshot().compare_to(baseline, "traceback")
        found["grown"] = [
            {"bytes": stat.size_diff, "blocks": stat.count_diff, "where": stat.traceback.format()}
            for stat in grown[:top]
        ]
    return found


class Progress:
    """Counts the keys written and appends a sample to `path` at every multiple of `every` and
    when they reach `total`."""

    def __init__(self, path: Path, every: int, total: int) -> None:
        self.path = path
        self.every = every
        self.total = total
        self.keys = 0
        self.started = time.monotonic()
        self.baseline: tracemalloc.Snapshot | None = None

    def add(self, table: ExpiringTable, count: int) -> None:
        before, self.keys = self.keys, self.keys + count
        if sample_due(before, self.keys, self.every, self.total):
            line = sample(table, self.keys, self.started)
            if tracemalloc.is_tracing():
                line |= traced(self.baseline)
                self.baseline = self.baseline or tracemalloc.take_snapshot()
            with self.path.open("ab") as out:
                out.write(orjson.dumps(line) + b"\n")


def build(settings: Settings, topic: str, progress: Progress) -> faust.App:
    app = create_app(settings)
    tables = declare_tables(app, settings)
    dedup = tables.dedup
    source = app.topic(
        topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        # co-partitioned with the table, as `webhooks.raw` is (`declare_tables`)
        partitions=topic_spec(settings, TABLE_SOURCES["dedup"]).partitions,
        maxsize=SOURCE_BUFFER_RECORDS,
    )

    changelog = app.producer.buffer

    @app.agent(source, name="bench-state")
    async def write_keys(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            keys = split_keys(event.value)
            with as_current(event):  # as the normalize agent marks its events
                for key in keys:
                    if not dedup.seen(key):
                        dedup.add(key)
            # faust's conductor lets the changelog buffer ebb by at most 100 records per source
            # record (`ProducerBuffer.wait_until_ebb`): after records of thousands of keys the
            # unsent changelog records would pile up, not the table. The worker's own sources
            # bring a few keys per record.
            while changelog.size:
                await changelog.flush()
            progress.add(dedup, len(keys))

    expiry = tables.expiry()

    async def expire_tables() -> None:
        await expiry.run()

    app.timer(expiry_interval(settings.dedup_window))(expire_tables)
    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.state.worker", description=__doc__)
    parser.add_argument("topic", help="the topic of key batches (full name)")
    parser.add_argument("progress", type=Path, help="the JSON-lines file of samples")
    parser.add_argument("--every", type=int, default=250_000, help="keys between samples")
    parser.add_argument("--total", type=int, default=0, help="keys to come (a last sample)")
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames traced (0: off)")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as `pipeline worker`
    app = build(settings, args.topic, Progress(args.progress, args.every, args.total))
    run_worker(app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
