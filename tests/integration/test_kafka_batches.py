"""pipeline.runtime.kafka_batches against the real broker: every record lands in the partition
Kafka's partitioner gives its key, in order, with its headers."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from pipeline.runtime.kafka_batches import Record, send_batches
from tests.support.kafka import read_records

pytestmark = pytest.mark.integration


async def test_batches_land_where_and_as_kafka_would_put_their_records(
    kafka_bootstrap: str, prefix: str
) -> None:
    topic = f"{prefix}batches"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    headers = [("content-type", b"application/json")]
    records = [
        Record(topic, f"key-{n % 11}".encode(), f"value-{n}".encode() * 20, headers)
        for n in range(300)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_batch_size=4096)
    await producer.start()
    try:
        sent = await send_batches(producer, records)
        await asyncio.gather(*(batch.ack for batch in sent))
    finally:
        await producer.stop()
    assert len(sent) > 3  # 4 KiB batches: several per partition

    received = await read_records(
        kafka_bootstrap, topic, until=lambda got: len(got) >= len(records)
    )

    assert len(received) == len(records)
    kafka = DefaultPartitioner()
    for record in received:
        assert record.partition == kafka(record.key, [0, 1, 2], [0, 1, 2])
        assert record.headers == tuple(headers)
    for key in {r.key for r in records}:
        assert [r.value for r in received if r.key == key] == [
            r.value for r in records if r.key == key
        ]  # per-key order
