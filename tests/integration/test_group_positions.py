"""`LagMonitor.positions` on the real broker: what the stall watchdog of a worker owning no source
partition reads to tell "nobody consumes the ingest topics" from "others do"."""

from __future__ import annotations

import time

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


async def test_members_are_the_ids_the_coordinator_lists(kafka_bootstrap: str, prefix: str) -> None:
    topic, group = f"{prefix}members", f"{prefix}members-group"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    member = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=group)
    monitor = LagMonitor(kafka_bootstrap, group)
    try:
        await member.start()
        deadline = time.monotonic() + 30
        while not member.assignment() and time.monotonic() < deadline:
            await member.getmany(timeout_ms=200)  # joins the group, and is given the partition
        joined = member._coordinator.member_id
        assert joined, "the consumer did not join its group in 30 s"
        assert await monitor.members() == {joined}
        await member.stop()  # leaves the group
        assert await monitor.members() == set()
    finally:
        await member.stop()
        await monitor.close()
