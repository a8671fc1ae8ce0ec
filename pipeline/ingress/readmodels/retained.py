"""Reading retained records back: normalized events in a time range (replay), dead letters
(redrive). Kafka keeps them; the ingress re-queues them on `deliveries`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.health import partitions_of


async def records_between(
    bootstrap: str, topic: str, start: datetime | None, end: datetime | None
) -> AsyncIterator[dict[str, Any]]:
    """Decoded values of the records whose Kafka timestamp is in [start, end], by partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        if not partitions:
            return
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        begins = await _start_offsets(consumer, partitions, start)
        end_ms = None if end is None else int(end.timestamp() * 1000)
        for partition in partitions:
            begin = begins.get(partition)
            if begin is None or begin >= ends[partition]:
                continue
            consumer.seek(partition, begin)
            async for value in _read_partition(consumer, partition, ends[partition], end_ms):
                yield value
    finally:
        await consumer.stop()


async def _start_offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], start: datetime | None
) -> dict[TopicPartition, int | None]:
    if start is None:
        return dict(await consumer.beginning_offsets(partitions))
    found = await consumer.offsets_for_times(
        {partition: int(start.timestamp() * 1000) for partition in partitions}
    )
    return {partition: (hit.offset if hit else None) for partition, hit in found.items()}


async def _read_partition(
    consumer: AIOKafkaConsumer, partition: TopicPartition, end_offset: int, end_ms: int | None
) -> AsyncIterator[dict[str, Any]]:
    while True:
        batch = await consumer.getmany(partition, timeout_ms=1000)
        if not batch and await consumer.position(partition) >= end_offset:
            return
        for record in batch.get(partition, []):
            if record.offset >= end_offset or (end_ms is not None and record.timestamp > end_ms):
                return
            if record.value is not None:
                yield orjson.loads(record.value)
            if record.offset == end_offset - 1:
                return
