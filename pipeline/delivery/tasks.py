"""Delivery tasks (`deliveries`, `deliveries.retry.*`, `deliveries.dead`) and attempt records
(`deliveries.attempts`): typed, frozen values, decoded once where a topic is read.

A task is one event for one subscription. It travels from topic to topic (never sleeps in place):
live → retry tier 1 → … → dead. `webhook_id` stays the same across all of them so receivers can
drop the rare repeat.

msgspec Structs, chosen by `python -m bench codecs`: decoding a task into one (its types checked)
costs less than `orjson.loads` into a dict, a frozen dataclass built from that dict about twice as
much, and encoding under half a microsecond more than orjson (BENCHMARKS.md, "Codecs").

A task's event is raw JSON (`msgspec.Raw`): the bytes routing wrote to `events.normalized` are
copied into the task, and from the task into the POST body and the attempt record, never decoded
into a dict and encoded again (three times per delivery before). What the delivery path reads of
it (`EventHead`) is decoded on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from pipeline.contract.codec import Codec
from pipeline.delivery.outcome import Outcome
from pipeline.delivery.signing import webhook_id
from pipeline.events.cloudevent import parse_time, rfc3339

TASK_SCHEMA = "delivery-task/1"
ATTEMPT_SCHEMA = "delivery-attempt/1"


class DeliveryTask(msgspec.Struct, frozen=True, kw_only=True):
    """One event for one subscription, as on `deliveries` and `deliveries.retry.*`."""

    schema: str = TASK_SCHEMA
    delivery_id: str
    subscription_id: str
    webhook_id: str
    event: msgspec.Raw  # the CloudEvent's JSON, exactly as on `events.normalized`
    attempt: int
    not_before: str | None  # RFC 3339; None: due at once
    reason: str  # live, replay, redrive or test
    force: bool  # bypasses "already delivered" suppression
    routed_at: str
    last_error: str | None


class DeadDelivery(DeliveryTask, frozen=True, kw_only=True):
    """A task that will not be attempted again, as on `deliveries.dead`; redrive re-queues it."""

    dead_reason: str  # exhausted, gone, refused, disabled or held_back
    dead_at: str


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt and its outcome, as on `deliveries.attempts` (the delivery log)."""

    schema: str = ATTEMPT_SCHEMA
    attempt_id: str
    delivery_id: str
    subscription_id: str
    webhook_id: str
    event_id: str | None
    type: str | None
    attempt: int
    reason: str
    started_at: str
    duration_seconds: float
    response_code: int | None
    outcome: str
    error: str | None
    payload: msgspec.Raw  # the task's event


class EventHead(msgspec.Struct):
    """The fields of a task's CloudEvent the delivery path reads; the others are skipped."""

    id: str | None = None
    type: str | None = None
    subject: str | None = None
    provider: str | None = None
    receivedat: str | None = None


decode_task = Codec(DeliveryTask).decode  # `deliveries` and its retry tiers
event_head = Codec(EventHead).decode  # a task's `event`
decode_dead = Codec(DeadDelivery).decode  # `deliveries.dead`
encode = Codec.encode  # any of the records here


def task_key(subscription_id: str, subject: object) -> bytes:
    """The record key of a task on `deliveries`, its retry tiers and `deliveries.dead`: the
    subscription and the event's subject. One subject's tasks share a partition (and so keep
    their order, and find their `delivered` marks), while one subscription's subjects spread over
    every partition, and so over every worker."""
    if subject is None:
        return subscription_id.encode()
    return f"{subscription_id} {subject}".encode()


def key_of(task: DeliveryTask) -> bytes:
    return task_key(task.subscription_id, event_head(task.event).subject)


def new_task(
    subscription_id: str,
    event: Mapping[str, Any],
    *,
    reason: str,
    force: bool = False,
    encoded: bytes | None = None,
) -> DeliveryTask:
    """`reason`: live, replay, redrive or test; `force` bypasses "already delivered" suppression;
    `encoded`: the event's JSON when the caller has it (routing: as written to
    `events.normalized`), so it is not encoded again."""
    return DeliveryTask(
        delivery_id=uuid.uuid4().hex,
        subscription_id=subscription_id,
        webhook_id=webhook_id(subscription_id, str(event["source"]), str(event["id"])),
        event=msgspec.Raw(encode(event) if encoded is None else encoded),
        attempt=1,
        not_before=None,
        reason=reason,
        force=force,
        routed_at=rfc3339(datetime.now(UTC)),
        last_error=None,
    )


def retry_task(task: DeliveryTask, delay: float, outcome: Outcome) -> DeliveryTask:
    return later(task, delay, outcome, attempt=task.attempt + 1)


def later(task: DeliveryTask, delay: float, outcome: Outcome, *, attempt: int) -> DeliveryTask:
    """The task due `delay` seconds from now as attempt number `attempt`."""
    due = datetime.now(UTC) + timedelta(seconds=delay)
    return msgspec.structs.replace(
        _as_task(task),
        attempt=attempt,
        not_before=rfc3339(due),
        last_error=_describe(outcome),
    )


def dead_letter(task: DeliveryTask, reason: str, outcome: Outcome | None) -> DeadDelivery:
    fields = msgspec.structs.asdict(_as_task(task))
    return DeadDelivery(
        **fields
        | {
            "dead_reason": reason,
            "dead_at": rfc3339(datetime.now(UTC)),
            "last_error": _describe(outcome) if outcome else task.last_error,
        }
    )


def seconds_until_due(task: DeliveryTask) -> float:
    due = parse_time(task.not_before)
    return 0.0 if due is None else (due - datetime.now(UTC)).total_seconds()


def attempt_record(
    task: DeliveryTask, outcome: Outcome, started: datetime, duration: float
) -> DeliveryAttempt:
    head = event_head(task.event)
    return DeliveryAttempt(
        attempt_id=uuid.uuid4().hex,
        delivery_id=task.delivery_id,
        subscription_id=task.subscription_id,
        webhook_id=task.webhook_id,
        event_id=head.id,
        type=head.type,
        attempt=task.attempt,
        reason=task.reason,
        started_at=rfc3339(started),
        duration_seconds=round(duration, 6),
        response_code=outcome.status_code,
        outcome=outcome.kind.name.lower(),
        error=outcome.error,
        payload=task.event,
    )


def _as_task(task: DeliveryTask) -> DeliveryTask:
    """A dead letter being redriven or retried is a plain task again."""
    if type(task) is DeliveryTask:
        return task
    fields = msgspec.structs.asdict(task)
    del fields["dead_reason"], fields["dead_at"]
    return DeliveryTask(**fields)


def _describe(outcome: Outcome) -> str:
    if outcome.error:
        return outcome.error
    return f"HTTP {outcome.status_code}"
