"""A round's Kafka records → the facts `soak_accounting` judges, and the poller's accepted events.

Raw records are mapped to CloudEvent ids with the pipeline's own pure normalizer
(`pipeline.providers.normalize`, the function the normalize agent runs), so an event on
`webhooks.raw` or `polls.raw` is found there even if the worker never normalized it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord

from bench.soak.accounting import Answer, Evidence, Spot
from pipeline.contract.topics import Topic, delivery_tier
from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import parse_time
from pipeline.providers.normalize import normalize_poll, normalize_webhook

Records = Mapping[str, list[ConsumerRecord]]  # manifest topic name → records


def _spot(topic: str, record: ConsumerRecord, due: float | None = None) -> Spot:
    return Spot(topic, record.partition, record.offset, record.timestamp or 0, due)


def raw_events(records: Records, catalog: Catalog) -> dict[str, tuple[str, Spot]]:
    """Event id → (its instance id, its first record) on `webhooks.raw` and `polls.raw`."""
    found: dict[str, tuple[str, Spot]] = {}
    for topic, normalize in (
        (Topic.WEBHOOKS_RAW, normalize_webhook),
        (Topic.POLLS_RAW, normalize_poll),
    ):
        for record in records.get(topic, ()):
            outcome = normalize(record.value, catalog)
            for event in outcome.events:
                found.setdefault(str(event["id"]), (str(outcome.instance_id), _spot(topic, record)))
    return found


def polled_states(records: Records) -> set[tuple[str, str]]:
    """(message id, state) of every snapshot on `polls.raw`."""
    seen = set()
    for record in records.get(Topic.POLLS_RAW, ()):
        snapshot = orjson.loads(record.value)
        item = snapshot.get("item")
        state = "DELETED" if snapshot.get("deleted") else (item or {}).get("state", "")
        seen.add((str(snapshot.get("item_id")), str(state)))
    return seen


def _task(value: bytes) -> dict[str, Any]:
    decoded = orjson.loads(value)
    return decoded if isinstance(decoded, dict) else {}


def dead_webhook_ids(records: Records) -> set[str]:
    return {str(_task(r.value).get("webhook_id")) for r in records.get(Topic.DELIVERIES_DEAD, ())}


def evidence(
    records: Records,
    raw: Mapping[str, tuple[str, Spot]],
    committed: dict[tuple[str, int], int],
    answers: Mapping[str, list[Answer]],
    now: float,
) -> Evidence:
    found = Evidence(committed=committed, answers=answers, now=now)
    found.raw = {event_id: spot for event_id, (_, spot) in raw.items()}
    for record in records.get(Topic.EVENTS_NORMALIZED, ()):
        event_id = str(orjson.loads(record.value).get("id"))
        found.normalized.setdefault(event_id, []).append(_spot(Topic.EVENTS_NORMALIZED, record))
    for topic, listed in records.items():
        if delivery_tier(topic) is not None:
            for record in listed:
                task = _task(record.value)
                moment = parse_time(task.get("not_before"))
                spot = _spot(topic, record, moment.timestamp() if moment else None)
                found.tasks.setdefault(str(task.get("webhook_id")), []).append(spot)
    found.dead = dead_webhook_ids(records)
    seen: set[tuple[str, int]] = set()
    for record in records.get(Topic.DELIVERIES_ATTEMPTS, ()):
        attempt = _task(record.value)
        webhook = str(attempt.get("webhook_id"))
        if str(attempt.get("error") or "").startswith("timeout"):
            found.timed_out.add(webhook)
        if attempt.get("outcome") == "delivered":
            logged = (record.timestamp or 0) / 1000
            found.concluded[webhook] = min(logged, found.concluded.get(webhook, logged))
        # The same task at the same attempt number, attempted twice: its offset was consumed again
        # (a restart or a rebalance before the commit). A retry or deferral is a new record.
        identity = (str(attempt.get("delivery_id")), int(attempt.get("attempt") or 0))
        if identity in seen:
            found.replayed.add(webhook)
        seen.add(identity)
    return found
