"""`topics/manifest.toml` → `TopicSpec`s: the data contract, read (never imported) by the code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings import Settings, parse_duration

CLEANUP_POLICIES = frozenset({"delete", "compact"})


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the manifest declares it, with its cluster-side name."""

    name: str
    key: str
    partitions: int
    cleanup: str
    retention_ms: int
    description: str
    value_schema: Path | None = None

    def configs(self) -> dict[str, str]:
        """The topic-level configs the manifest owns."""
        return {"cleanup.policy": self.cleanup, "retention.ms": str(self.retention_ms)}


def load_manifest(settings: Settings) -> list[TopicSpec]:
    """Read and check the manifest; names carry `settings.topic_prefix`."""
    path = settings.topics_dir / "manifest.toml"
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read topic manifest {path}: {exc}") from exc
    specs: list[TopicSpec] = []
    for entry in document.get("topic", []):
        specs.extend(_expand(entry, settings))
    names = [spec.name for spec in specs]
    if len(names) != len(set(names)):
        raise ConfigError(f"{path}: a topic is declared twice")
    return specs


def _expand(entry: dict[str, Any], settings: Settings) -> list[TopicSpec]:
    name = str(entry.get("name", ""))
    if entry.get("per_retry_tier"):
        tiers = range(1, len(settings.retry_schedule) + 1)
        return [_spec({**entry, "name": name.format(tier=tier)}, settings) for tier in tiers]
    return [_spec(entry, settings)]


def _spec(entry: dict[str, Any], settings: Settings) -> TopicSpec:
    name = entry.get("name")
    if not name:
        raise ConfigError("topic manifest: an entry has no name")
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
        key=key,
        partitions=partitions,
        cleanup=cleanup,
        retention_ms=_retention_ms(name, retention),
        description=str(entry.get("description", "")),
        value_schema=schema_path,
    )


def _retention_ms(name: str, retention: str) -> int:
    if retention == "forever":
        return -1
    try:
        return int(parse_duration(retention) * 1000)
    except ValueError as exc:
        raise ConfigError(f"topic manifest: {name} retention: {exc}") from exc
