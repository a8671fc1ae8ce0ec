"""The headers every write carries, as `topics/manifest.toml` declares them per topic.

`content-type` tells a consumer how to read a value without knowing the topic. On
`events.normalized` it is the one the CloudEvents Kafka protocol binding (1.0.2) requires in
structured mode, `application/cloudevents+json`: receivers tell structured from binary mode by it,
and the official SDKs' Kafka deserializers refuse a record that has neither it nor `ce_` headers.

The lists are built once per process, by cluster-side topic name, as the `(str, bytes)` pairs
aiokafka writes; a send looks its topic's list up and passes it on, encoding nothing per record.
A tombstone carries no headers: it has no value whose format they could name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.contract.topics import load_manifest
from pipeline.errors import ConfigError
from pipeline.settings import Settings

CONTENT_TYPE = "content-type"
Header = tuple[str, bytes]


@dataclass(frozen=True)
class RecordHeaders:
    """Each topic's headers, by the name the cluster knows it by (prefix and tier applied)."""

    by_topic: Mapping[str, list[Header]]

    @classmethod
    def from_manifest(cls, settings: Settings) -> RecordHeaders:
        return cls(
            {
                spec.name: [(name, value.encode()) for name, value in spec.headers]
                for spec in load_manifest(settings)
            }
        )

    def of(self, topic: str, value: bytes | None) -> list[Header] | None:
        """What a record of `topic` with `value` carries (None for a tombstone)."""
        if value is None:
            return None
        try:
            return self.by_topic[topic]
        except KeyError:
            # Every write goes to a declared topic: another name is a bug; never write it bare.
            raise ConfigError(f"{topic} is not declared in the topic manifest") from None
