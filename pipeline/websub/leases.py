"""`websub.leases`: each channel's WebSub lease as the hub verified it (compacted).

Written by the ingress when it answers a hub's verification GET (before the 200, so a lease the
hub holds is always on Kafka) and tombstoned by the WebSub manager for channels no instance
wants; read by the manager, which renews each lease before it ends, across restarts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

from pipeline.contract.codec import Codec
from pipeline.contract.topics import Topic
from pipeline.events.cloudevent import parse_time, rfc3339
from pipeline.providers.base import LeaseChange
from pipeline.settings import Settings


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """One `websub.leases` value (schemas/websub-lease.json)."""

    schema: Literal["websub-lease/1"] = "websub-lease/1"
    instance_id: str
    channel_id: str
    topic: str
    lease_seconds: int
    verified_at: str
    expires_at: str

    def renew_at(self, fraction: float) -> datetime:
        """When `fraction` of the lease has passed (a record that lost its times: now)."""
        verified = parse_time(self.verified_at)
        if verified is None:
            return datetime.now(UTC)
        return verified + timedelta(seconds=self.lease_seconds * fraction)


LEASES = Codec(Lease)  # `websub.leases` values
decode_lease = LEASES.decode


def lease_key(instance_id: str, channel_id: str) -> str:
    return f"{instance_id}/{channel_id}"


def new_lease(instance_id: str, change: LeaseChange, now: datetime) -> Lease:
    seconds = change.lease_seconds or 0
    return Lease(
        instance_id=instance_id,
        channel_id=change.channel_id,
        topic=change.topic,
        lease_seconds=seconds,
        verified_at=rfc3339(now),
        expires_at=rfc3339(now + timedelta(seconds=seconds)),
    )


class LeaseWriter:
    """Writes leases (and their tombstones) to `websub.leases` through a durable producer."""

    def __init__(self, settings: Settings, producer: Any) -> None:
        self._topic = settings.topic(Topic.WEBSUB_LEASES)
        self._producer = producer

    async def record(self, instance_id: str, change: LeaseChange) -> None:
        key = lease_key(instance_id, change.channel_id).encode()
        value = None
        if change.lease_seconds is not None:
            value = LEASES.encode(new_lease(instance_id, change, datetime.now(UTC)))
        await self._producer.send(self._topic, key, value)

    async def forget(self, instance_id: str, channel_id: str) -> None:
        await self._producer.send(self._topic, lease_key(instance_id, channel_id).encode(), None)
