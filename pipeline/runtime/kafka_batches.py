"""Records handed to aiokafka a partition batch at a time, with one acknowledgement per batch.

aiokafka's `send` costs every record a coroutine, a lookup of its partition, a future, and on
the broker's answer a `RecordMetadata` and a callback: about 10 µs of Python per record, paid
three times per event by the normalize agent. The agent writes a whole batch at once, so here
its records are grouped by topic and partition and each group goes to aiokafka as closed
`BatchBuilder`s (`AIOKafkaProducer.create_batch` / `send_batch`, aiokafka's public batch
interface): one future per partition batch, and no linger (a closed batch is sent at once).

Records keep their order within a partition, as Kafka's ordering promise is per partition; a
record is placed by its key as the producer's own partitioner places it (`pipeline.partitioner`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from pipeline.partitioner import partition_for

Header = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[Header] | None = None


@dataclass(frozen=True, slots=True)
class SentBatch:
    """Records of one partition handed to the producer; `ack` resolves once Kafka has them all."""

    topic: str
    partition: int
    records: int
    ack: asyncio.Future[Any]


async def send_batches(producer: Any, records: Iterable[Record]) -> list[SentBatch]:
    """Hand every record to `producer` (an `AIOKafkaProducer`); each batch is acknowledged by
    its `ack`. Raises what the producer raises; batches handed over before stay handed over."""
    groups: dict[tuple[str, int], list[Record]] = {}
    partitions: dict[str, list[int]] = {}
    for record in records:
        every = partitions.get(record.topic)
        if every is None:
            every = partitions[record.topic] = sorted(await producer.partitions_for(record.topic))
        place = (record.topic, partition_for(record.key, every, every))
        groups.setdefault(place, []).append(record)
    built = {place: _builders(producer, place[0], group) for place, group in groups.items()}
    # aiokafka takes a partition's next batch only once the one before is in a request: the
    # partitions' first batches go first, then their second ones, so those waits overlap.
    sent = []
    for round_ in range(max((len(builders) for builders in built.values()), default=0)):
        for (topic, partition), builders in built.items():
            if round_ < len(builders):
                sent.append(await _submit(producer, builders[round_], topic, partition))
    return sent


def _builders(producer: Any, topic: str, group: list[Record]) -> list[Any]:
    """The group's records in closed batches, in order."""
    builders = [producer.create_batch()]
    for record in group:
        if _append(builders[-1], record):
            continue
        builders[-1].close()  # full
        builders.append(producer.create_batch())
        if not _append(builders[-1], record):
            raise MessageSizeTooLargeError(f"a record of {topic} is larger than a batch")
    for builder in builders:
        builder.close()  # nothing else joins it, and it is sent without lingering
    return builders


def _append(builder: Any, record: Record) -> bool:
    headers = list(record.headers) if record.headers else []
    added = builder.append(timestamp=None, key=record.key, value=record.value, headers=headers)
    return added is not None


async def _submit(producer: Any, builder: Any, topic: str, partition: int) -> SentBatch:
    ack = await producer.send_batch(builder, topic, partition=partition)
    return SentBatch(topic, partition, builder.record_count(), ack)
