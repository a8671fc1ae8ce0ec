"""Peer runner: normalize+dedup as a bare aiokafka loop (`python -m bench.peers.bare SPEC`).

`webhooks.raw` → `getmany` → the pipeline's `normalize_webhook` → drop events whose key is in an
in-memory set → send each new event (orjson, keyed by subject, acks=all) → one gather of the
batch's acks → commit → next batch. On uvloop, as the worker is, so the difference to the worker is
faust and the pipeline's own code, not the event loop. Runs until SIGTERM; the parent measures it
from outside (`bench/peers/measure.py`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.peers.stage import RunnerSpec, dedup_key, until_terminated
from pipeline.events.catalog import Catalog
from pipeline.providers.normalize import normalize_webhook

MAX_RECORDS = 500  # per batch, as the worker's BATCH_LIMIT


async def drain(consumer: Any, producer: Any, spec: RunnerSpec, catalog: Catalog) -> None:
    """Batch after batch until cancelled; offsets are committed only after the batch's acks."""
    seen: set[str] = set()
    while True:
        batches = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
        acks = []
        for records in batches.values():
            for record in records:
                for event in normalize_webhook(record.value, catalog).events:
                    key = dedup_key(event)
                    if key in seen:
                        continue
                    seen.add(key)
                    value, subject = orjson.dumps(event), event["subject"].encode()
                    acks.append(await producer.send(spec.output, value, key=subject))
        if acks:
            await asyncio.gather(*acks)
        if batches:
            await consumer.commit()


async def run(spec: RunnerSpec) -> None:
    catalog = Catalog(Path(spec.topics_dir))
    consumer = AIOKafkaConsumer(
        spec.source,
        bootstrap_servers=spec.bootstrap,
        group_id=spec.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=spec.bootstrap, acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    try:
        await drain(consumer, producer, spec, catalog)
    finally:
        await consumer.stop()
        await producer.stop()


def main(argv: list[str]) -> int:
    spec = RunnerSpec.from_json(Path(argv[0]).read_bytes())
    uvloop.run(until_terminated(run(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
