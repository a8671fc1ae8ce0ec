"""Reading the soak's topics with aiokafka: a round's window of records, and the worker group's
committed offsets and lag. Nothing here asks a pipeline process anything.

A window starts at the end offsets taken when the round starts and ends at the end offsets when it
is read, so it holds whatever the round's load, poller and retries wrote, whichever round's
events they carry (the accounting keeps only the round's own).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from pipeline.contract.topics import Topic, retry_topics
from pipeline.settings import Settings

READ_TIMEOUT = 60.0


def delivery_topics(settings: Settings) -> list[str]:
    """`deliveries` and its retry tiers (manifest names), in tier order."""
    return [Topic.DELIVERIES, *retry_topics(settings)]


def source_topics(settings: Settings) -> list[str]:
    """Every topic the worker consumes for the flow (manifest names): its lag is the backlog."""
    return [
        Topic.WEBHOOKS_RAW,
        Topic.POLLS_RAW,
        Topic.EVENTS_NORMALIZED,
        *delivery_topics(settings),
    ]


def window_topics(settings: Settings) -> list[str]:
    return [*source_topics(settings), Topic.DELIVERIES_DEAD, Topic.DELIVERIES_ATTEMPTS]


class Topics:
    """The cluster-side names of one session's topics (a prefix), both ways."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bootstrap = settings.kafka_bootstrap
        # Plain strings: the names key the records, which reports write as JSON.
        self._names = {settings.topic(name): str(name) for name in window_topics(settings)}

    def manifest_name(self, cluster_topic: str) -> str:
        return self._names[cluster_topic]

    async def partitions(self, names: Iterable[str]) -> list[TopicPartition]:
        client = AIOKafkaClient(bootstrap_servers=self.bootstrap)
        try:
            await client.bootstrap()
            cluster = await client.fetch_all_metadata()
        finally:
            await client.close()
        found: list[TopicPartition] = []
        for name in names:
            topic = self.settings.topic(name)
            found.extend(
                TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())
            )
        return found

    async def end_offsets(self, names: Iterable[str]) -> dict[TopicPartition, int]:
        partitions = await self.partitions(names)
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await reader.start()
        try:
            ends: dict[TopicPartition, int] = await reader.end_offsets(partitions)
            return ends
        finally:
            await reader.stop()

    async def read(
        self, start: dict[TopicPartition, int], names: Iterable[str] | None = None
    ) -> dict[str, list[ConsumerRecord]]:
        """Records from `start` to the current end of each partition, by manifest name."""
        wanted = set(names) if names is not None else None
        begin = {
            tp: offset
            for tp, offset in start.items()
            if wanted is None or self.manifest_name(tp.topic) in wanted
        }
        found: dict[str, list[ConsumerRecord]] = {self.manifest_name(tp.topic): [] for tp in begin}
        if not begin:
            return found
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await reader.start()
        try:
            ends = await reader.end_offsets(list(begin))
            todo = {tp for tp in begin if ends[tp] > begin[tp]}
            reader.assign(list(begin))
            for tp, offset in begin.items():
                reader.seek(tp, offset)
            deadline = time.monotonic() + READ_TIMEOUT
            while todo and time.monotonic() < deadline:
                batch = await reader.getmany(*todo, timeout_ms=500)
                for tp, records in batch.items():
                    kept = [r for r in records if r.offset < ends[tp]]
                    found[self.manifest_name(tp.topic)].extend(kept)
                for tp in list(todo):
                    if await reader.position(tp) >= ends[tp]:
                        todo.discard(tp)
            if todo:
                raise TimeoutError(f"reading {sorted(str(tp) for tp in todo)} took too long")
        finally:
            await reader.stop()
        return found

    async def committed(self, group: str) -> dict[tuple[str, int], int]:
        """The group's committed offset per (manifest name, partition) of the window topics."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return {
            (self._names[tp.topic], tp.partition): meta.offset
            for tp, meta in offsets.items()
            if tp.topic in self._names and meta.offset >= 0
        }

    async def lag(self, group: str) -> int:
        """Records on the worker's source topics its group has not committed yet."""
        ends = await self.end_offsets(source_topics(self.settings))
        committed = await self.committed(group)
        return sum(
            max(0, end - committed.get((self.manifest_name(tp.topic), tp.partition), 0))
            for tp, end in ends.items()
        )
