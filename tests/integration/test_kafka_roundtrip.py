"""The broker the project installs is a real Kafka: durable produce, ordered consume."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.integration


async def test_produce_and_consume_through_the_real_broker(
    kafka_bootstrap: str, prefix: str
) -> None:
    topic = f"{prefix}roundtrip"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = [(f"key-{n % 5}".encode(), f"value-{n}".encode()) for n in range(200)]
        for key, value in sent:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{prefix}reader",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=500)
                received.extend((r.key, r.value) for part in batch.values() for r in part)
    finally:
        await consumer.stop()

    assert sorted(received) == sorted(sent)
    for key in {key for key, _ in sent}:  # per-key order survives partitioning
        assert [v for k, v in received if k == key] == [v for k, v in sent if k == key]
