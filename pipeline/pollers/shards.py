"""Which instances this poller polls: the `pollers.shards` partitions its consumer group gives it.

`config.instances` → (instance id → shard) → the poller that owns the shard → its instance task.
Several `pipeline poller` processes join one Kafka consumer group on `pollers.shards`, a topic
that holds no records: its partitions are shards, and an instance belongs to the shard its id
hashes to (Kafka's own key partitioner). The group coordinator gives each shard to one member;
a member that dies stops heartbeating and, after the session timeout, its shards go to the
others. `on_revoked` is awaited before this member rejoins, so its instances are stopped before
another member can be given them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from pipeline.health import partitions_of

log = logging.getLogger(__name__)

# A dead poller's shards move after the session timeout; survivors hear of the rebalance on their
# next heartbeat. 10 s + 1 s + a restart of the tasks keeps a takeover well under 30 s.
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 1_000
RETRY_SECONDS = 1.0


def shard_of(instance_id: str, shards: int) -> int:
    """The shard (partition of `pollers.shards`) an instance belongs to, as Kafka would key it."""
    return (int(murmur2(instance_id.encode())) & 0x7FFFFFFF) % shards


class ShardMembership:
    """This process's membership of the pollers' consumer group, and the shards it owns."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group_id: str,
        on_revoked: Callable[[], Awaitable[None]],
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.group_id = group_id
        self._on_revoked = on_revoked
        self.owned: frozenset[int] = frozenset()
        self.shards = 0
        # Bumped on every change of `owned`: the service syncs its views once per generation.
        self.generation = 0
        self._task: asyncio.Task[None] | None = None
        self._missing_logged = False

    def owns(self, instance_id: str) -> bool:
        return bool(self.owned) and shard_of(instance_id, self.shards) in self.owned

    def start(self) -> None:
        self._task = asyncio.create_task(self._member_forever(), name="poller:shards")

    async def stop(self) -> None:
        """Leave the group (after the caller stopped its instances: they are released at once)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _member_forever(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=self.group_id,
                enable_auto_commit=False,
                session_timeout_ms=SESSION_TIMEOUT_MS,
                heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            )
            try:
                await self._member(consumer)
            except (KafkaError, OSError) as exc:
                log.warning("poller group %s: membership lost (%s); rejoining", self.group_id, exc)
            finally:
                await self.release()
                with contextlib.suppress(KafkaError, OSError):
                    await consumer.stop()
            await asyncio.sleep(RETRY_SECONDS)

    async def _member(self, consumer: AIOKafkaConsumer) -> None:
        if not await partitions_of(self.bootstrap, self.topic):
            if not self._missing_logged:  # checked every second: said once
                log.warning("topic %s does not exist (run `pipeline topics apply`)", self.topic)
            self._missing_logged = True
            return
        await consumer.start()
        consumer.subscribe([self.topic], listener=_Listener(self, consumer))
        while True:
            # Nothing is ever read; polling keeps the member alive (max.poll.interval).
            await consumer.getmany(timeout_ms=1000)

    async def assign(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        self.shards = len(consumer.partitions_for_topic(self.topic) or ())
        self.owned = frozenset(tp.partition for tp in assigned if tp.topic == self.topic)
        self.generation += 1
        log.info(
            "poller owns %d of the %d shards of %s: %s",
            len(self.owned),
            self.shards,
            self.topic,
            sorted(self.owned),
        )

    async def release(self) -> None:
        if not self.owned:
            return
        self.owned = frozenset()
        self.generation += 1
        await self._on_revoked()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, membership: ShardMembership, consumer: AIOKafkaConsumer) -> None:
        self._membership = membership
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._membership.release()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._membership.assign(self._consumer, assigned)
