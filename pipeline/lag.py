"""Consumer lag of the pipeline's consumer group, per topic and partition, as a Prometheus gauge.

The worker's leader measures it periodically: committed offsets (admin API) against end offsets.
Operators alert on it growing; data teams' own consumer groups are theirs to watch.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from pipeline import metrics

log = logging.getLogger(__name__)


class LagMonitor:
    def __init__(self, bootstrap: str, group: str) -> None:
        self._bootstrap = bootstrap
        self._group = group
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def measure(self) -> dict[TopicPartition, int]:
        """Set the gauge for every partition the group has committed to; returns the lags."""
        try:
            admin, consumer = await self._clients()
            committed = await admin.list_consumer_group_offsets(self._group)
            ends = await consumer.end_offsets(list(committed)) if committed else {}
        # OSError, RuntimeError: a connection the broker's death reset or closed (aiokafka
        # raises "the handler is closed"); the next measurement reconnects.
        except (KafkaError, OSError, RuntimeError) as exc:
            log.warning("measuring consumer lag failed: %s", exc)
            return {}
        lags = {}
        for partition, offset in committed.items():
            lag = max(0, ends[partition] - offset.offset)
            metrics.CONSUMER_LAG.labels(self._group, partition.topic, str(partition.partition)).set(
                lag
            )
            lags[partition] = lag
        return lags

    async def positions(
        self, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, tuple[int, int]]:
        """The group's committed offset and the end offset of each partition; one the group never
        committed to counts from its beginning (the worker's `auto_offset_reset` is earliest).
        Raises `KafkaError` when Kafka cannot answer."""
        admin, consumer = await self._clients()
        found = await admin.list_consumer_group_offsets(self._group, partitions=list(partitions))
        committed = {tp: found[tp].offset for tp in found if found[tp].offset >= 0}
        ends = await consumer.end_offsets(list(partitions))
        never = [tp for tp in partitions if tp not in committed]
        if never:
            committed.update(await consumer.beginning_offsets(never))
        return {tp: (committed[tp], ends[tp]) for tp in partitions}

    async def members(self) -> set[str]:
        """The member ids the group coordinator lists for the group now. Raises `KafkaError`."""
        admin, _ = await self._clients()
        described = await admin.describe_consumer_groups([self._group])
        return {
            member[0] for response in described for group in response.groups for member in group[5]
        }

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
            await self._admin.start()
            self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap)
            await self._consumer.start()
        return self._admin, self._consumer

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
        if self._consumer is not None:
            await self._consumer.stop()
        self._admin = self._consumer = None
