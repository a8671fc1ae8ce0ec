"""`pipeline topics apply`: make the cluster match `topics/manifest.toml`, idempotently.

Missing topics are created. Existing topics that differ are reported, never changed: adding
partitions reshuffles keys (breaking per-subject order and table co-partitioning), and a retention
or cleanup change deserves an operator's eyes. Nothing is ever deleted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError

from pipeline.contract.topics import TopicSpec
from pipeline.errors import KafkaUnavailableError, PipelineError

TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC = 3
VISIBLE_WITHIN_SECONDS = 30.0


class Outcome(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    DIFFERS = "differs"


@dataclass(frozen=True)
class TopicReport:
    """What `apply` found or did for one topic."""

    name: str
    outcome: Outcome
    differences: tuple[str, ...] = field(default=())

    def line(self) -> str:
        if self.outcome is Outcome.DIFFERS:
            return f"{self.name}: differs (left as is): {'; '.join(self.differences)}"
        return f"{self.name}: {self.outcome}"


async def apply_topics(
    bootstrap: str, specs: list[TopicSpec], replication_factor: int = 1
) -> list[TopicReport]:
    """Create missing topics, compare existing ones; one report per spec, in manifest order."""
    async with admin_client(bootstrap) as admin:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created = await _create(admin, missing, replication_factor)
        await _await_visible(admin, created)
        present = [spec for spec in specs if spec.name not in created]
        found = await _describe(admin, [spec.name for spec in present])
    reports = {name: TopicReport(name, Outcome.CREATED) for name in created}
    for spec in present:
        differences = _differences(spec, *found[spec.name])
        outcome = Outcome.DIFFERS if differences else Outcome.UNCHANGED
        reports[spec.name] = TopicReport(spec.name, outcome, differences)
    return [reports[spec.name] for spec in specs]


@asynccontextmanager
async def admin_client(
    bootstrap: str, request_timeout_ms: int = 15000
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed on exit; an unreachable cluster is `KafkaUnavailableError`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms)
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise KafkaUnavailableError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        yield admin
    finally:
        await admin.close()


async def _create(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], replication_factor: int
) -> set[str]:
    if not specs:
        return set()
    new_topics = [
        NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=spec.configs())
        for spec in specs
    ]
    response = await admin.create_topics(new_topics, timeout_ms=15000)
    created: set[str] = set()
    for name, error_code, message in response.topic_errors:
        if error_code == 0:
            created.add(name)
        elif error_code != TOPIC_ALREADY_EXISTS:  # another apply won the race: compare it below
            raise PipelineError(f"creating topic {name} failed (error {error_code}): {message}")
    return created


async def _await_visible(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    """Wait until created topics have leaders: the controller answers before brokers know them."""
    deadline = time.monotonic() + VISIBLE_WITHIN_SECONDS
    while names:
        metadata = await admin.describe_topics(sorted(names))
        names = {
            topic["topic"]
            for topic in metadata
            if topic["error_code"] or not all(p["leader"] >= 0 for p in topic["partitions"])
        }
        if names and time.monotonic() > deadline:
            raise KafkaUnavailableError(f"created topics not visible after 30s: {sorted(names)}")
        if names:
            await asyncio.sleep(0.1)


async def _describe(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, tuple[int, dict[str, str]]]:
    """Partition count and the manifest-owned configs of each topic."""
    if not names:
        return {}
    metadata, configs = await asyncio.gather(
        admin.describe_topics(names),
        admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs=None) for name in names]
        ),
    )
    partitions = {
        topic["topic"]: len(topic["partitions"])
        for topic in metadata
        if topic["error_code"] != UNKNOWN_TOPIC
    }
    settings = {name: values for response in configs for name, values in _config_values(response)}
    return {name: (partitions.get(name, 0), settings.get(name, {})) for name in names}


def _config_values(response: Any) -> list[tuple[str, dict[str, str]]]:
    """(topic, {config: value}) from a DescribeConfigsResponse."""
    found = []
    for _error, _message, _type, name, entries in (r[:5] for r in response.resources):
        found.append((name, {entry[0]: entry[1] for entry in entries}))
    return found


def _differences(spec: TopicSpec, partitions: int, configs: dict[str, str]) -> tuple[str, ...]:
    differences = []
    if partitions != spec.partitions:
        differences.append(f"partitions {partitions} on the cluster, {spec.partitions} in manifest")
    for key, wanted in spec.configs().items():
        actual = configs.get(key)
        if actual != wanted:
            differences.append(f"{key} {actual} on the cluster, {wanted} in manifest")
    return tuple(differences)
