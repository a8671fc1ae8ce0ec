"""Follow a whole topic from its beginning, forever: the base of the in-memory read models.

Reconnects by itself when Kafka goes away; `caught_up` is set once every partition has been read
to the end offset it had when following began.

A read barrier (`synced`, `synced_since`) asks Kafka for the topic's end offsets and returns when
the records before them have been read. It asks on a connection of its own (a consumer that never
fetches): the broker answers a connection's requests in order, so on the reader's connection the
request waited behind the reader's idle fetch (about 200 ms, measured). Callers that need one per
batch share it: a barrier begun at or after the moment they name covers them, so concurrent
callers cost one request between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
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
        self._consumer: AIOKafkaConsumer | None = None  # while one reads the topic
        self._positions: dict[TopicPartition, int] = {}  # what it has handed to `on_record`
        self._progress = asyncio.Event()  # set, and replaced, whenever the positions move
        self._synced_at = -math.inf  # when the newest barrier that passed began (monotonic)
        self._barrier: tuple[float, asyncio.Task[None]] | None = None
        self._offsets: AIOKafkaConsumer | None = None  # asks the end offsets; never fetches

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"follow:{self.topic}")

    async def synced(self) -> None:
        """Return once every record written before this call has been read (a read barrier:
        what another process wrote and had acked is then in memory)."""
        await self.synced_since(time.monotonic())

    async def synced_since(self, moment: float) -> None:
        """Return once a read barrier begun at or after `moment` (`time.monotonic()`) has
        passed: every record Kafka acked before `moment` has then been read."""
        while self._synced_at < moment:
            if self._barrier is None or self._barrier[0] < moment:
                begun = time.monotonic()
                task = asyncio.create_task(self._pass_barrier(begun), name=f"sync:{self.topic}")
                self._barrier = (begun, task)
            await asyncio.shield(self._barrier[1])

    def assume_read(self) -> None:
        """Take the topic as read to its end, now and at every later barrier: for a follower
        that is never started, whose owner is filled by other means (unit tests)."""
        self.caught_up.set()
        self._synced_at = math.inf

    async def stop(self) -> None:
        tasks = [self._task, self._barrier[1] if self._barrier else None]
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._close_offsets()

    async def _pass_barrier(self, begun: float) -> None:
        while self._consumer is None:  # connecting, or Kafka is away: the next reader will do
            await self._progress.wait()
        partitions = list(self._positions)
        while True:
            try:
                ends = await self._end_offsets(partitions)
                break
            except (KafkaError, OSError) as exc:
                log.warning("end offsets of %s not read (%s); retrying", self.topic, exc)
                await self._close_offsets()
                await asyncio.sleep(RETRY_SECONDS)
        while not all(self._positions.get(p, -1) >= end for p, end in ends.items()):
            await self._progress.wait()
        self._synced_at = max(self._synced_at, begun)

    async def _end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self._offsets is None:
            offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await offsets.start()
            self._offsets = offsets
        ends: dict[TopicPartition, int] = await self._offsets.end_offsets(partitions)
        return ends

    async def _close_offsets(self) -> None:
        offsets, self._offsets = self._offsets, None
        if offsets is not None:
            await offsets.stop()

    async def _follow(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            try:
                await consumer.start()
                await self._read(consumer)
            except (KafkaError, OSError) as exc:
                log.warning("reading %s failed (%s); retrying", self.topic, exc)
            finally:
                self._consumer = None
                self._positions = {}
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
        await self._moved(consumer, assigned)
        self._consumer = consumer
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    self._on_record(record.key, record.value, record.offset)
            await self._moved(consumer, assigned)
            if not self.caught_up.is_set() and await _reached(consumer, ends):
                self.caught_up.set()
                log.info("%s loaded", self.topic)

    async def _moved(self, consumer: AIOKafkaConsumer, assigned: list[TopicPartition]) -> None:
        self._positions = {p: await consumer.position(p) for p in assigned}
        self._progress.set()
        self._progress = asyncio.Event()


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True
