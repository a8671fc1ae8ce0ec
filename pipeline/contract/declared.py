"""`topics/manifest.toml` as declared, before expansion: what the compatibility check compares.

`pipeline.ops.manifest.load_manifest` gives the topics as the cluster sees them (prefixed, one per
retry tier); a schema change is judged per declared entry (`deliveries.retry.{tier}` once), with
the processes the manifest says write and read it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class DeclaredTopic:
    name: str  # as declared: `deliveries.retry.{tier}` stands for every tier
    value_schema: str | None  # relative to the manifest's folder
    written_by: tuple[str, ...]
    read_by: tuple[str, ...]
    per_retry_tier: bool = False


def declared_topics(topics_dir: Path) -> dict[str, DeclaredTopic]:
    """The manifest's entries by declared name, in manifest order."""
    path = topics_dir / "manifest.toml"
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read topic manifest {path}: {exc}") from exc
    declared: dict[str, DeclaredTopic] = {}
    for entry in document.get("topic", []):
        name = str(entry.get("name", ""))
        schema = entry.get("value_schema")
        declared[name] = DeclaredTopic(
            name=name,
            value_schema=str(schema) if schema else None,
            written_by=tuple(str(who) for who in entry.get("written_by", ())),
            read_by=tuple(str(who) for who in entry.get("read_by", ())),
            per_retry_tier=bool(entry.get("per_retry_tier")),
        )
    return declared
