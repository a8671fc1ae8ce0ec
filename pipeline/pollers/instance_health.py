"""poll outcomes → `instances.health`: whether each polled instance works, as its poller sees it.

The admin API shows the record under `health`; the `pipeline_poller_instances` gauge counts
instances per status. Records are written when the status or reason changes, and otherwise at most
once a minute to refresh `checked_at`, so a thousand healthy instances cost no write storm.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any, Literal

import msgspec

from pipeline.config.view import CompactedView, Unreadable
from pipeline.contract.codec import Codec
from pipeline.events.cloudevent import parse_time, rfc3339
from pipeline.metrics import POLLER_INSTANCES as INSTANCES
from pipeline.pollers.writer import RecordWriter
from pipeline.providers.errors import PollerError

log = logging.getLogger(__name__)

STATUSES = ("pending", "healthy", "unhealthy")
REFRESH_SECONDS = 60.0
# Retriable failures are already retried inside a cycle; two failed cycles in a row mean the
# provider is down for this instance rather than hiccuping.
UNHEALTHY_AFTER_FAILURES = 2
REASONS = {
    "provider_auth": "auth_failed",
    "provider_rate_limited": "rate_limited",
    "provider_unavailable": "provider_unavailable",
    "provider_response": "bad_response",
    "bad_config": "bad_config",
    "config_unreadable": "config_unreadable",
    "webhooks_unlisted": "webhooks_unlisted",
}


def reason_of(error: PollerError) -> str:
    """The machine-readable reason of instance-health.json for a poller error."""
    return REASONS.get(error.code, "bad_response")


class InstanceHealth(msgspec.Struct, frozen=True, kw_only=True):
    """An `instances.health` value (schemas/instance-health.json)."""

    instance_id: str
    status: Literal["healthy", "unhealthy"]
    since: str
    checked_at: str
    reason: str | None = None
    message: str | None = None
    last_success_at: str | None = None


# A stored record; a `msgspec.DecodeError` makes the view skip and log it.
HEALTH = Codec(InstanceHealth)
decode_health = HEALTH.decode
encode_health = HEALTH.encode


def shown_health(record: InstanceHealth) -> dict[str, Any]:
    """The record as the admin API shows it: every field, under its schema name."""
    return msgspec.structs.asdict(record)


class HealthBoard:
    """The status of every instance this process polls, mirrored into the instances gauge."""

    def __init__(self) -> None:
        self._statuses: dict[str, str] = {}

    def set(self, instance_id: str, status: str) -> None:
        self._statuses[instance_id] = status
        self._publish()

    def remove(self, instance_id: str) -> None:
        self._statuses.pop(instance_id, None)
        self._publish()

    def _publish(self) -> None:
        counts = Counter(self._statuses.values())
        for status in STATUSES:
            INSTANCES.labels(status).set(counts[status])


class HealthTracker:
    """One instance's health: turns cycle outcomes into `instances.health` records."""

    def __init__(
        self,
        instance_id: str,
        writer: RecordWriter,
        topic: str,
        view: CompactedView[InstanceHealth],
        board: HealthBoard,
    ) -> None:
        self._instance_id = instance_id
        self._writer = writer
        self._topic = topic
        self._view = view
        self._board = board
        # Carry on from the stored record, so a restart keeps `since` and writes nothing new.
        # A stored record this process cannot read is safe to replace: health is derived.
        stored = view.lookup(instance_id)
        self._record = None if isinstance(stored, Unreadable) else stored
        checked = parse_time(self._record.checked_at) if self._record else None
        self._written_at = checked.timestamp() if checked else float("-inf")
        self._last_success = self._record.last_success_at if self._record else None
        self._failures = 0
        board.set(instance_id, self.status)

    @property
    def status(self) -> str:
        return self._record.status if self._record else "pending"

    async def succeeded(self, now: datetime) -> None:
        self._failures = 0
        self._last_success = rfc3339(now)
        await self._report(now, "healthy", None, None)

    async def failed(self, error: PollerError, now: datetime) -> None:
        self._failures += 1
        if error.retriable and self._failures < UNHEALTHY_AFTER_FAILURES:
            return
        await self._report(now, "unhealthy", reason_of(error), str(error))

    async def _report(
        self,
        now: datetime,
        status: Literal["healthy", "unhealthy"],
        reason: str | None,
        message: str | None,
    ) -> None:
        previous = self._record
        before = (previous.status, previous.reason) if previous else None
        changed = before != (status, reason)
        if not changed and now.timestamp() - self._written_at < REFRESH_SECONDS:
            return
        if changed:
            # DEBUG: the instance loop's failure log already says when it fails and recovers.
            log.debug("instance %s is now %s (%s)", self._instance_id, status, reason or "ok")
            self._board.set(self._instance_id, status)
        record = InstanceHealth(
            instance_id=self._instance_id,
            status=status,
            reason=reason,
            message=message,
            since=rfc3339(now) if changed or previous is None else previous.since,
            checked_at=rfc3339(now),
            last_success_at=self._last_success,
        )
        key = self._instance_id
        meta = await self._writer.send(self._topic, key.encode(), encode_health(record))
        # Kept only once acked: a failed write is retried on the next outcome.
        self._record, self._written_at = record, now.timestamp()
        self._view.apply(key, record, meta.offset)
