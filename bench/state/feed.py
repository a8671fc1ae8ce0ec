"""The key batches of `python -m bench state`'s table part, fed as the table worker reads them.

The topic has as many partitions as `webhooks.raw` (the table is co-partitioned with its source)
and receives records of `KEYS_PER_RECORD` keys, in turn on each partition. It is kept at most
`AHEAD_RECORDS` records ahead of what the worker's group has committed. With the whole run written
beforehand, the worker held every record it had not processed yet in memory, counted as the
table's: in a run of 5 million keys, malloc's bytes in use stood at 306 MiB after 750,000 keys and
fell by ~15 MiB (125 records) with every 250,000 keys processed; tracemalloc, in a run of 400,000,
found them allocated at aiokafka's `consumer/fetcher.py` line 256 and released as processed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.state.figures import KEYS_PER_RECORD, key_batch
from pipeline.settings import Settings

AHEAD_RECORDS = 32  # 64,000 keys, 3.7 MiB of records: some seconds of the worker's work
POLL_SECONDS = 0.25


def allowance(written: int, committed: int, total: int, ahead: int = AHEAD_RECORDS) -> int:
    """How many records may be written now: up to `ahead` beyond the committed, `total` in all."""
    return max(0, min(ahead - (written - committed), total - written))


@contextlib.asynccontextmanager
async def _admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    async with _admin(bootstrap) as client:
        await client.create_topics([NewTopic(topic, partitions, 1)])


async def _committed(client: AIOKafkaAdminClient, group: str, topic: str) -> int:
    """Records of `topic` the group has committed (the sum of its partitions' offsets)."""
    offsets = await client.list_consumer_group_offsets(group)
    return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic)


async def feed_keys(settings: Settings, topic: str, partitions: int, tag: str, keys: int) -> None:
    """Write `keys` unique keys to `topic` in batches, as fast as the worker (the group
    `settings.app_id`) commits them."""
    total = -(-keys // KEYS_PER_RECORD)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        async with _admin(settings.kafka_bootstrap) as client:
            written = 0
            while written < total:
                committed = await _committed(client, settings.app_id, topic)
                sent = []
                for number in range(written, written + allowance(written, committed, total)):
                    start = number * KEYS_PER_RECORD
                    value = key_batch(tag, start, min(KEYS_PER_RECORD, keys - start))
                    sent.append(await producer.send(topic, value, partition=number % partitions))
                await asyncio.gather(*sent)
                written += len(sent)
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await producer.stop()
