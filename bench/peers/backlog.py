"""The peer runs' input and output topics: a backlog in `webhooks.raw`, one output per run.

The backlog is written by the pipeline's own ingress (alone, no worker) under the session's
prefix: instances registered through the admin API as a user would, in Oktopost + Hootsuite
pairs so the records spread over the partitions (`webhooks.raw` is keyed by instance id), and no
subscription; the webhooks come from `bench.payloads.WebhookFactory` (its `Mix`: 10 % resends),
round-robin over the pairs. The ingress stops before any runner starts, so every runner reads the
same records.

Every output topic stamps records with the broker's append time (`LogAppendTime`): Quix Streams
gives an output the timestamp of its input record, so only the broker's clock tells, for every
runner alike, when an event was written.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from bench.broker import create_topics
from bench.payloads import Mix, Request, WebhookFactory
from bench.peers.measure import partitions_of
from bench.stack import register_instances, start_stack
from pipeline.contract.topics import Topic, topic_spec
from pipeline.settings import Settings

CLIENTS = 32  # concurrent POSTs while filling the backlog
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}


@dataclass(frozen=True)
class Backlog:
    """What the runners read: the session's settings (its prefix), and what the backlog holds."""

    settings: Settings
    partitions: tuple[int, ...]  # records in each partition of `webhooks.raw`
    events: frozenset[str]  # the distinct CloudEvent ids they carry
    instances: int
    rejected: int  # webhooks the ingress did not accept (not in the backlog)

    @property
    def records(self) -> int:
        return sum(self.partitions)


async def _post_all(base_url: str, requests: Iterator[Request], count: int) -> tuple[set[str], int]:
    """POST `count` requests; (the event ids of those the ingress accepted, how many it did not)."""
    accepted: set[str] = set()
    rejected = 0
    remaining = iter(range(count))
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            nonlocal rejected
            for _ in remaining:
                request = next(requests)
                async with session.post(
                    base_url + request.path, data=request.body, headers=request.headers
                ) as response:
                    if response.status == 202:
                        accepted.update(request.event_ids)
                    else:
                        rejected += 1

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return accepted, rejected


def _requests(factories: list[WebhookFactory]) -> Iterator[Request]:
    for factory in cycle(factories):
        yield factory.next()


async def fill_backlog(
    settings: Settings, logs: Path, env: dict[str, str], *, webhooks: int, pairs: int, mix: Mix
) -> Backlog:
    """Create the session's topics and write `webhooks` webhooks to `webhooks.raw`."""
    await create_topics(settings)
    stack = await start_stack(settings, logs, env, worker=False)
    try:
        run = uuid.uuid4().hex[:6]
        instances = [
            await register_instances(stack, f"okto-{run}-{n}", f"hoot-{run}-{n}")
            for n in range(pairs)
        ]
        tag = uuid.uuid4().hex[:6]
        factories = [
            WebhookFactory(pair, mix, f"{tag}p{n}", seed=7 + n) for n, pair in enumerate(instances)
        ]
        accepted, rejected = await _post_all(stack.base_url, _requests(factories), webhooks)
    finally:
        await stack.stop()
    partitions = await _records_per_partition(settings)
    return Backlog(settings, partitions, frozenset(accepted), 2 * pairs, rejected)


async def _records_per_partition(settings: Settings) -> tuple[int, ...]:
    partitions = await partitions_of(settings.kafka_bootstrap, settings.topic(Topic.WEBHOOKS_RAW))
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await reader.start()
    try:
        ends = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
    return tuple(ends[tp] for tp in partitions)


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    client = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await client.start()
    return client


def _raise_on_errors(answers: list[tuple[int, str]]) -> None:
    """(error code, what) per topic of an admin request's answer: the first error raised."""
    for error_code, what in answers:
        if error_code != 0:
            raise RuntimeError(f"Kafka admin request failed with error {error_code}: {what}")


async def stamp_on_append(settings: Settings) -> None:
    """`events.normalized` (the worker's output) keeps the manifest's configs, stamped on append."""
    spec = topic_spec(settings, Topic.EVENTS_NORMALIZED)
    client = await _admin(settings)
    try:
        configs = {**spec.configs(), **APPEND_TIME}
        resource = ConfigResource(ConfigResourceType.TOPIC, spec.name, configs)
        for response in await client.alter_configs([resource]):
            _raise_on_errors(
                [(code, f"{name}: {text}") for code, text, _, name in response.resources]
            )
    finally:
        await client.close()


async def create_output(settings: Settings, name: str) -> str:
    """A peer's own output topic, shaped as `events.normalized`, stamped on append."""
    spec = topic_spec(settings, Topic.EVENTS_NORMALIZED)
    topic = settings.topic(name)
    client = await _admin(settings)
    try:
        configs = {**spec.configs(), **APPEND_TIME}
        new = NewTopic(topic, spec.partitions, 1, topic_configs=configs)
        answer = await client.create_topics([new])
        _raise_on_errors([(code, f"{name}: {text}") for name, code, text in answer.topic_errors])
    finally:
        await client.close()
    return topic
