"""Where pollers write: `polls.raw`, `pollers.state`, `instances.health`, `pollers.credentials`.

A protocol rather than the producer itself, so the cycle logic is tested without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.contract.topics import Topic
from pipeline.settings import Settings


class RecordWriter(Protocol):
    """Writes one record and returns once Kafka acked it; the result carries its `offset`."""

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> Any: ...


@dataclass(frozen=True)
class PollerTopics:
    """The cluster-side names of the topics a poller writes."""

    polls_raw: str
    pollers_state: str
    instances_health: str
    pollers_credentials: str

    @classmethod
    def from_settings(cls, settings: Settings) -> PollerTopics:
        return cls(
            polls_raw=settings.topic(Topic.POLLS_RAW),
            pollers_state=settings.topic(Topic.POLLERS_STATE),
            instances_health=settings.topic(Topic.INSTANCES_HEALTH),
            pollers_credentials=settings.topic(Topic.POLLERS_CREDENTIALS),
        )
