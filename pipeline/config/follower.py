"""Follow a whole topic from its beginning, forever: the base of the in-memory read models.

Reconnects by itself when Kafka goes away; `caught_up` is set once every partition has been read
to the end offset it had when following began.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from pipeline.health import partitions_of

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0
OnRecord = Callable[[bytes | None, bytes | None, int], None]


class TopicFollower:
    def __init__(self, bootstrap: str, topic: str, on_record: OnRecord) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._on_record = on_record
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sync_waiters: list[asyncio.Future[None]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"follow:{self.topic}")

    async def synced(self) -> None:
        """Return once every record written before this call has been read (a read barrier:
        what another process wrote and had acked is then in memory)."""
        waiter = asyncio.get_running_loop().create_future()
        self._sync_waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._sync_waiters:
                self._sync_waiters.remove(waiter)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            try:
                await consumer.start()
                await self._read(consumer)
            except (KafkaError, OSError) as exc:
                log.warning("reading %s failed (%s); retrying", self.topic, exc)
            finally:
                await consumer.stop()
            await asyncio.sleep(RETRY_SECONDS)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await partitions_of(self.bootstrap, self.topic)
        if not partitions:
            log.warning("topic %s does not exist yet (run `pipeline topics apply`)", self.topic)
            return
        assigned = [TopicPartition(self.topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        while True:
            batch = await consumer.getmany(timeout_ms=100 if self._sync_waiters else 1000)
            for records in batch.values():
                for record in records:
                    self._on_record(record.key, record.value, record.offset)
            if not self.caught_up.is_set() and await _reached(consumer, ends):
                self.caught_up.set()
                log.info("%s loaded", self.topic)
            if self._sync_waiters:
                await self._release_synced(consumer, assigned)

    async def _release_synced(
        self, consumer: AIOKafkaConsumer, assigned: list[TopicPartition]
    ) -> None:
        # Only the waiters already there when the end offsets were asked cover those offsets.
        waiting = list(self._sync_waiters)
        if await _reached(consumer, await consumer.end_offsets(assigned)):
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True
