"""`LagMonitor.positions` on the real broker: what the stall watchdog of a worker owning no source
partition reads to tell "nobody consumes the ingest topics" from "others do"."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from pipeline.lag import LagMonitor

pytestmark = pytest.mark.integration


async def test_positions_are_the_groups_commits_and_the_ends(
    kafka_bootstrap: str, prefix: str
) -> None:
    topic, group = f"{prefix}positions", f"{prefix}positions-group"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(7):
            await producer.send_and_wait(topic, b"x", partition=0 if n < 5 else 1)
    finally:
        await producer.stop()
    first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
    committer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign([first])
        await committer.commit({first: OffsetAndMetadata(2, "")})
    finally:
        await committer.stop()

    monitor = LagMonitor(kafka_bootstrap, group)
    try:
        positions = await monitor.positions([first, second])
    finally:
        await monitor.close()
    # partition 1 was never committed to: it counts from its beginning, all 2 records behind
    assert positions == {first: (2, 5), second: (0, 2)}
