"""An isolated Kafka broker for one bench session, and record counts of the pipeline's topics.

The broker runs on free ports with its storage in the session's temp dir, so the bench neither
disturbs nor is disturbed by the shared development broker on 127.0.0.1:9092.
"""

from __future__ import annotations

from pathlib import Path

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.children import free_port
from pipeline.contract.topics import Topic, load_manifest, retry_topics
from pipeline.errors import LocalKafkaError
from pipeline.ops import local_kafka
from pipeline.ops.topics_apply import apply_topics
from pipeline.settings import Settings

# Topics whose growth per run tells where records went (manifest names).
COUNTED_TOPICS = (
    Topic.WEBHOOKS_RAW,
    Topic.EVENTS_NORMALIZED,
    Topic.EVENTS_INVALID,
    Topic.DELIVERIES,
    Topic.DELIVERIES_RETRY,  # one per tier of the session's retry schedule
    Topic.DELIVERIES_DEAD,
    Topic.DELIVERIES_ATTEMPTS,
)


START_ATTEMPTS = 3


async def start_broker(home: Path) -> local_kafka.LocalKafka:
    """Start a new broker under `home` on free ports; raises if it does not become ready.

    Formatting storage fails when the random cluster id starts with "-" (StorageTool reads it as
    an option), about one start in 64: a fresh storage dir and id is tried then.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port(pair=True)
        kafka = local_kafka.LocalKafka(
            home=home / f"attempt-{attempt}", port=port, controller_port=port + 1
        )
        try:
            started, message = await local_kafka.start(kafka)
        except LocalKafkaError:
            if attempt == START_ATTEMPTS:
                raise
            continue
        if not started:
            raise RuntimeError(f"expected a new broker at {kafka.bootstrap}, found: {message}")
        return kafka
    raise AssertionError("unreachable")


async def stop_broker(kafka: local_kafka.LocalKafka) -> None:
    await local_kafka.stop(kafka)


async def create_topics(settings: Settings) -> None:
    """Apply the manifest under the session's prefix (as `pipeline topics apply` does)."""
    await apply_topics(settings.kafka_bootstrap, load_manifest(settings))


async def delete_session_topics(bootstrap: str, stem: str) -> list[str]:
    """Delete the topics whose names start with `stem` (a session's topic prefix and app id both
    start with `bench<tag>`), e.g. after a session on the shared broker; the names deleted."""
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        names = [name for name in await client.list_topics() if name.startswith(stem)]
        if names:
            await client.delete_topics(names)
    finally:
        await client.close()
    return names


def counted_topics(settings: Settings) -> list[str]:
    """`COUNTED_TOPICS`' manifest names as plain strings (they key the results' JSON)."""
    names: list[str] = []
    for topic in COUNTED_TOPICS:
        names.extend(retry_topics(settings) if topic is Topic.DELIVERIES_RETRY else [topic.value])
    return names


async def topic_counts(settings: Settings) -> dict[str, int]:
    """Records written so far to each counted topic (the sum of its partitions' end offsets)."""
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await client.bootstrap()
        cluster = await client.fetch_all_metadata()
    finally:
        await client.close()
    partitions: dict[str, list[TopicPartition]] = {}
    for name in counted_topics(settings):
        topic = settings.topic(name)
        numbers = cluster.partitions_for_topic(topic) or set()
        partitions[name] = [TopicPartition(topic, number) for number in numbers]
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await reader.start()
    try:
        everything = [tp for tps in partitions.values() for tp in tps]
        ends = await reader.end_offsets(everything) if everything else {}
        return {name: sum(ends[tp] for tp in tps) for name, tps in partitions.items()}
    finally:
        await reader.stop()


def growth(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after.get(name, 0) - before.get(name, 0) for name in after}
