"""Every topic the pipeline reads or writes, declared once: `Topic` names it, and
`topics/manifest.toml` says its key, value schema, partitions, cleanup and retention.

Ingress, pollers, worker, ops and bench name a topic only through `Topic` (its cluster-side name is
`settings.topic(Topic.X)`) and read its facts through `load_manifest` / `topic_spec`. Reading the
manifest checks that it declares exactly the topics `Topic` names, so neither can drift alone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings import Settings, parse_duration

CLEANUP_POLICIES = frozenset({"delete", "compact"})
TIER = "{tier}"  # the placeholder of a per-retry-tier name
Headers = tuple[tuple[str, str], ...]  # (name, value), in manifest order


class Topic(StrEnum):
    """A topic's manifest name (without `PIPELINE_TOPIC_PREFIX`), in flow order."""

    WEBHOOKS_RAW = "webhooks.raw"
    POLLS_RAW = "polls.raw"
    EVENTS_INVALID = "events.invalid"
    EVENTS_NORMALIZED = "events.normalized"
    DELIVERIES = "deliveries"
    DELIVERIES_RETRY = f"deliveries.retry.{TIER}"  # a template: one topic per retry delay
    DELIVERIES_DEAD = "deliveries.dead"
    DELIVERIES_ATTEMPTS = "deliveries.attempts"
    CONFIG_INSTANCES = "config.instances"
    CONFIG_SUBSCRIPTIONS = "config.subscriptions"
    POLLERS_STATE = "pollers.state"
    INSTANCES_HEALTH = "instances.health"
    POLLERS_CREDENTIALS = "pollers.credentials"
    POLLERS_SHARDS = "pollers.shards"
    WEBSUB_LEASES = "websub.leases"


def retry_topic(tier: int) -> str:
    """The manifest name of retry tier `tier` (1 for the first delay): `deliveries.retry.1`."""
    return Topic.DELIVERIES_RETRY.replace(TIER, str(tier))


def retry_topics(settings: Settings) -> list[str]:
    """The manifest names of the retry tiers, one per delay of `PIPELINE_RETRY_SCHEDULE`."""
    return [retry_topic(tier) for tier in range(1, len(settings.retry_schedule) + 1)]


def delivery_tier(name: str) -> int | None:
    """`deliveries` → 0, `deliveries.retry.N` → N (later tiers hold later attempts), else None."""
    if name == Topic.DELIVERIES:
        return 0
    head = Topic.DELIVERIES_RETRY.partition(TIER)[0]
    tier = name.removeprefix(head)
    return int(tier) if name.startswith(head) and tier.isdigit() else None


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the manifest declares it, with its cluster-side name."""

    name: str
    declared: Topic  # the constant naming it (for a retry tier: `Topic.DELIVERIES_RETRY`)
    key: str
    partitions: int
    cleanup: str
    retention_ms: int
    description: str
    value_schema: Path | None = None
    headers: Headers = ()  # what each record with a value carries (`RecordHeaders` encodes them)

    def configs(self) -> dict[str, str]:
        """The topic-level configs the manifest owns."""
        return {"cleanup.policy": self.cleanup, "retention.ms": str(self.retention_ms)}


def load_manifest(settings: Settings) -> list[TopicSpec]:
    """Read and check the manifest, in its order; names carry `settings.topic_prefix`."""
    path = settings.topics_dir / "manifest.toml"
    entries = _entries(path)
    _check_agreement(path, [str(entry.get("name", "")) for entry in entries])
    specs: list[TopicSpec] = []
    for entry in entries:
        specs.extend(_expand(entry, settings))
    return specs


@dataclass(frozen=True)
class DeclaredTopic:
    """A manifest entry as written, before expansion: what the compatibility check compares (the
    released manifest may declare other topics than `Topic` does, so it is not checked against it).
    """

    name: str  # as declared: `deliveries.retry.{tier}` stands for every tier
    value_schema: str | None  # relative to the manifest's folder
    written_by: tuple[str, ...]
    read_by: tuple[str, ...]
    per_retry_tier: bool = False
    headers: Headers = ()


def declared_topics(topics_dir: Path) -> dict[str, DeclaredTopic]:
    """The entries of `topics_dir/manifest.toml` by declared name, in manifest order."""
    declared: dict[str, DeclaredTopic] = {}
    for entry in _entries(topics_dir / "manifest.toml"):
        name = str(entry.get("name", ""))
        schema = entry.get("value_schema")
        declared[name] = DeclaredTopic(
            name=name,
            value_schema=str(schema) if schema else None,
            written_by=tuple(str(who) for who in entry.get("written_by", ())),
            read_by=tuple(str(who) for who in entry.get("read_by", ())),
            per_retry_tier=bool(entry.get("per_retry_tier")),
            headers=_headers(name, entry),
        )
    return declared


def _entries(path: Path) -> list[dict[str, Any]]:
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read topic manifest {path}: {exc}") from exc
    entries: list[dict[str, Any]] = document.get("topic", [])
    return entries


def topic_spec(settings: Settings, topic: Topic) -> TopicSpec:
    """The manifest's facts about `topic` (for the retry tiers, which share them: tier 1's)."""
    return next(spec for spec in load_manifest(settings) if spec.declared is topic)


def _check_agreement(path: Path, names: list[str]) -> None:
    """The manifest declares each `Topic` once, and nothing else."""
    if "" in names:
        raise ConfigError(f"{path}: an entry has no name")
    declared = {topic.value for topic in Topic}
    unknown = [name for name in names if name not in declared]
    if unknown:
        raise ConfigError(
            f"{path}: {', '.join(unknown)} has no constant in pipeline.contract.topics.Topic"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"{path}: {', '.join(twice)} is declared twice")
    missing = [f"Topic.{topic.name} ({topic})" for topic in Topic if topic not in names]
    if missing:
        raise ConfigError(f"{path}: {', '.join(missing)} is not declared there")


def _expand(entry: dict[str, Any], settings: Settings) -> list[TopicSpec]:
    topic = Topic(entry["name"])
    if bool(entry.get("per_retry_tier")) != (TIER in topic):
        raise ConfigError(f"topic manifest: {topic} needs per_retry_tier if and only if {TIER}")
    if entry.get("per_retry_tier"):
        return [_spec(topic, name, entry, settings) for name in retry_topics(settings)]
    return [_spec(topic, topic, entry, settings)]


def _spec(topic: Topic, name: str, entry: dict[str, Any], settings: Settings) -> TopicSpec:
    try:
        partitions = int(entry["partitions"])
        cleanup = str(entry["cleanup"])
        retention = str(entry["retention"])
        key = str(entry["key"])
    except KeyError as exc:
        raise ConfigError(f"topic manifest: {name} lacks {exc.args[0]!r}") from exc
    if partitions < 1:
        raise ConfigError(f"topic manifest: {name} needs at least one partition")
    if cleanup not in CLEANUP_POLICIES:
        raise ConfigError(
            f"topic manifest: {name} cleanup must be delete or compact, not {cleanup}"
        )
    schema = entry.get("value_schema")
    schema_path = settings.topics_dir / schema if schema else None
    if schema_path is not None and not schema_path.is_file():
        raise ConfigError(f"topic manifest: {name} names a missing schema {schema_path}")
    return TopicSpec(
        name=settings.topic(name),
        declared=topic,
        key=key,
        partitions=partitions,
        cleanup=cleanup,
        retention_ms=_retention_ms(name, retention),
        description=str(entry.get("description", "")),
        value_schema=schema_path,
        headers=_headers(name, entry),
    )


def _headers(name: str, entry: dict[str, Any]) -> Headers:
    """An entry's `headers` table: header names to text values (written as UTF-8)."""
    table = entry.get("headers", {})
    if not isinstance(table, dict) or not all(isinstance(value, str) for value in table.values()):
        raise ConfigError(f"topic manifest: {name} headers must be a table of strings")
    return tuple((str(header), value) for header, value in table.items())


def _retention_ms(name: str, retention: str) -> int:
    if retention == "forever":
        return -1
    try:
        return int(parse_duration(retention) * 1000)
    except ValueError as exc:
        raise ConfigError(f"topic manifest: {name} retention: {exc}") from exc
