"""pipeline.runtime.kafka_batches: records grouped by partition, in order, one ack per batch."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from pipeline.partitioner import partition_for
from pipeline.runtime.kafka_batches import Record, send_batches
from tests.support.fake_kafka import BatchProducer


async def test_records_go_by_partition_in_their_order_one_batch_each() -> None:
    producer = BatchProducer(partitions=4)
    keys = [f"subject-{n % 7}".encode() for n in range(40)]
    records = [Record("events", key, str(n).encode()) for n, key in enumerate(keys)]
    sent = await send_batches(producer, records)
    for topic, key, _, partition in producer.sent:
        if topic == "events":
            assert partition == partition_for(key, [0, 1, 2, 3], [])  # Kafka's placement
    for partition in range(4):  # each partition's records in the order given
        got = [v for t, _, v, p in producer.sent if t == "events" and p == partition]
        assert got == [
            r.value for r in records[:40] if partition_for(r.key, [0, 1, 2, 3], []) == partition
        ]
    assert len(sent) == len({(t, p) for t, _, _, p in producer.sent})  # a batch per partition
    assert sum(batch.records for batch in sent) == 40


async def test_a_full_batch_is_sent_and_the_next_one_begun() -> None:
    producer = BatchProducer(partitions=1, capacity=3)
    sent = await send_batches(producer, [Record("t", b"k", bytes([n])) for n in range(7)])
    assert [batch.records for batch in sent] == [3, 3, 1]
    assert [value for _, _, value, _ in producer.sent] == [bytes([n]) for n in range(7)]


async def test_batches_fill_up_to_aiokafkas_batch_size() -> None:
    """aiokafka's own builder: full at `max_batch_size`, a larger record alone in its batch."""
    real = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", max_batch_size=1024)

    async def partitions_for(topic: str) -> set[int]:
        return {0}

    async def send_batch(batch: object, topic: str, *, partition: int) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()

    producer = SimpleNamespace(
        create_batch=real.create_batch, partitions_for=partitions_for, send_batch=send_batch
    )
    records = [Record("t", b"k", b"x" * 400) for _ in range(5)]
    records.insert(3, Record("t", b"k", b"x" * 4096))
    assert [batch.records for batch in await send_batches(producer, records)] == [2, 1, 1, 2]


async def test_a_record_no_batch_takes_is_refused() -> None:
    with pytest.raises(MessageSizeTooLargeError):
        await send_batches(BatchProducer(capacity=0), [Record("t", b"k", b"v")])
