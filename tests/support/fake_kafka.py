"""aiokafka's producer in memory, as `pipeline.runtime.kafka_batches` and the tables' changelogs
use it: what is queued is noted, and each future is an ack the test sets."""

from __future__ import annotations

import asyncio
from typing import Any


class Builder:
    """A `BatchBuilder` that takes up to `capacity` records."""

    def __init__(self, capacity: int | None) -> None:
        self.records: list[tuple[bytes | None, bytes | None, list[Any]]] = []
        self.capacity = capacity
        self._closed = False

    def append(
        self, *, timestamp: float | None, key: bytes | None, value: bytes | None, headers: Any
    ) -> object | None:
        if self._closed or (self.capacity is not None and len(self.records) >= self.capacity):
            return None
        self.records.append((key, value, headers))
        return object()

    def close(self) -> None:
        self._closed = True

    def record_count(self) -> int:
        return len(self.records)


class BatchProducer:
    def __init__(self, partitions: int = 8, capacity: int | None = None) -> None:
        self.partitions = partitions
        self.capacity = capacity
        self.sent: list[tuple[str, bytes | None, bytes | None, int]] = []  # one per record
        self.batches: list[tuple[str, int, int]] = []  # topic, partition, records
        self.acks: list[asyncio.Future[Any]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> Builder:
        return Builder(self.capacity)

    async def send_batch(self, batch: Builder, topic: str, *, partition: int) -> Any:
        assert batch._closed
        self.sent += [(topic, key, value, partition) for key, value, _ in batch.records]
        self.batches.append((topic, partition, batch.record_count()))
        self.acks.append(asyncio.get_running_loop().create_future())
        return self.acks[-1]


class RecordProducer:
    """aiokafka's producer as a table's changelog uses it: `send` queues one record, its future
    is the ack, set by the test."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []
        self.acks: list[asyncio.Future[Any]] = []

    async def send(
        self, topic: str, value: bytes | None, *, key: bytes | None, partition: int | None
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, key, value, partition))
        self.acks.append(asyncio.get_running_loop().create_future())
        return self.acks[-1]
