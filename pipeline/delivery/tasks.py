"""Delivery tasks (`deliveries`, `deliveries.retry.*`, `deliveries.dead`) and attempt records.

A task is one event for one subscription. It travels from topic to topic (never sleeps in place):
live → retry tier 1 → … → dead. `webhook_id` stays the same across all of them so receivers can
drop the rare repeat.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.delivery.outcome import Outcome
from pipeline.delivery.signing import webhook_id
from pipeline.events.cloudevent import parse_time, rfc3339


def new_task(
    subscription_id: str, event: dict[str, Any], *, reason: str, force: bool = False
) -> dict[str, Any]:
    """`reason`: live, replay, redrive or test; `force` bypasses "already delivered" suppression."""
    return {
        "schema": "delivery-task/1",
        "delivery_id": uuid.uuid4().hex,
        "subscription_id": subscription_id,
        "webhook_id": webhook_id(subscription_id, str(event["source"]), str(event["id"])),
        "event": event,
        "attempt": 1,
        "not_before": None,
        "reason": reason,
        "force": force,
        "routed_at": rfc3339(datetime.now(UTC)),
        "last_error": None,
    }


def retry_task(task: dict[str, Any], delay: float, outcome: Outcome) -> dict[str, Any]:
    due = datetime.now(UTC) + timedelta(seconds=delay)
    return {
        **task,
        "attempt": task["attempt"] + 1,
        "not_before": rfc3339(due),
        "last_error": _describe(outcome),
    }


def dead_letter(task: dict[str, Any], reason: str, outcome: Outcome | None) -> dict[str, Any]:
    return {
        **task,
        "dead_reason": reason,
        "dead_at": rfc3339(datetime.now(UTC)),
        "last_error": _describe(outcome) if outcome else task.get("last_error"),
    }


def seconds_until_due(task: dict[str, Any]) -> float:
    due = parse_time(task.get("not_before"))
    return 0.0 if due is None else (due - datetime.now(UTC)).total_seconds()


def attempt_record(
    task: dict[str, Any], outcome: Outcome, started: datetime, duration: float
) -> dict[str, Any]:
    event = task["event"]
    return {
        "schema": "delivery-attempt/1",
        "attempt_id": uuid.uuid4().hex,
        "delivery_id": task["delivery_id"],
        "subscription_id": task["subscription_id"],
        "webhook_id": task["webhook_id"],
        "event_id": event.get("id"),
        "type": event.get("type"),
        "attempt": task["attempt"],
        "reason": task["reason"],
        "started_at": rfc3339(started),
        "duration_seconds": round(duration, 6),
        "response_code": outcome.status_code,
        "outcome": outcome.kind.name.lower(),
        "error": outcome.error,
        "payload": event,
    }


def _describe(outcome: Outcome) -> str:
    if outcome.error:
        return outcome.error
    return f"HTTP {outcome.status_code}"
