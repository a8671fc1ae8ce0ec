"""A compacted topic (`config.*`) materialized in memory: the latest value per key.

Every process that needs configuration reads the whole topic at start and follows it afterwards,
so a change made through any ingress reaches every process without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from pipeline.health import partitions_of

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_SECONDS = 1.0


class CompactedView(Generic[T]):
    """Latest value per key of one topic; a tombstone (null value) removes the key."""

    def __init__(self, bootstrap: str, topic: str, decode: Callable[[bytes], T]) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._decode = decode
        self._values: dict[str, tuple[int, T]] = {}
        self._tombstones: dict[str, int] = {}
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"view:{self._topic}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def get(self, key: str) -> T | None:
        found = self._values.get(key)
        return found[1] if found else None

    def values(self) -> Iterator[T]:
        return (value for _, value in self._values.values())

    def apply(self, key: str, value: T | None, offset: int) -> None:
        """Record a write; an older offset for the key (a stale replay) is ignored."""
        current = self._values.get(key, (self._tombstones.get(key, -1), None))[0]
        if offset < current:
            return
        if value is None:
            self._values.pop(key, None)
            self._tombstones[key] = offset
        else:
            self._values[key] = (offset, value)

    async def _follow(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
            try:
                await consumer.start()
                await self._read(consumer)
            except KafkaError as exc:
                log.warning("reading %s failed (%s); retrying", self._topic, exc)
            finally:
                await consumer.stop()
            await asyncio.sleep(RETRY_SECONDS)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await partitions_of(self._bootstrap, self._topic)
        if not partitions:
            log.warning("topic %s does not exist yet (run `pipeline topics apply`)", self._topic)
            return
        assigned = [TopicPartition(self._topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    self._consume(record.key, record.value, record.offset)
            if not self.caught_up.is_set() and await _reached(consumer, ends):
                self.caught_up.set()
                log.info("%s loaded: %d entries", self._topic, len(self._values))

    def _consume(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if key is None:
            return
        try:
            decoded = None if value is None else self._decode(value)
        except (ValueError, TypeError):
            log.exception("skipping unreadable %s record at offset %d", self._topic, offset)
            return
        self.apply(key.decode(), decoded, offset)


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True
