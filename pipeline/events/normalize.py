"""`webhooks.raw` | `polls.raw` record → CloudEvents and dead letters (normalize's pure half).

Nothing here touches Kafka, so every provider mapping is unit-tested without a broker; the agent
adds deduplication and the writes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import Lineage
from pipeline.events.invalid import invalid_record
from pipeline.providers.base import Normalized, PayloadError
from pipeline.providers.hootsuite_polls import normalize_message_snapshot
from pipeline.providers.registry import PROVIDERS

# (provider, resource) → the normalizer of that poller's snapshots
SNAPSHOT_NORMALIZERS = {("hootsuite", "message"): normalize_message_snapshot}


@dataclass
class Outcome:
    """What one raw record became."""

    provider: str = "unknown"
    instance_id: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0


def normalize_webhook(raw: bytes, catalog: Catalog) -> Outcome:
    """Every element of the envelope's payload as a checked CloudEvent, or as a dead letter."""
    try:
        envelope = orjson.loads(raw)
        provider = PROVIDERS[envelope["provider"]]
        body = base64.b64decode(envelope["body"], validate=True)
        lineage = Lineage(
            provider=provider.name,
            instance_id=str(envelope["instance_id"]),
            received_at=str(envelope["received_at"]),
            include_raw=bool(envelope.get("options", {}).get("include_raw", True)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        outcome = Outcome()
        outcome.invalid.append(
            _dead(outcome, "unreadable_record", f"not an envelope: {exc!r}", raw)
        )
        return outcome
    outcome = Outcome(provider=provider.name, instance_id=lineage.instance_id)
    try:
        payload = provider.parse(body)
    except PayloadError as exc:
        outcome.invalid.append(_dead(outcome, exc.code, str(exc), envelope))
        return outcome
    _collect(
        outcome,
        provider.normalize(payload, envelope.get("headers", {}), lineage),
        envelope,
        catalog,
    )
    return outcome


def normalize_poll(raw: bytes, catalog: Catalog) -> Outcome:
    """A poller's snapshot as a checked CloudEvent, or as a dead letter."""
    try:
        snapshot = orjson.loads(raw)
        normalizer = SNAPSHOT_NORMALIZERS[(snapshot["provider"], snapshot["resource"])]
        lineage = Lineage(
            provider=str(snapshot["provider"]),
            instance_id=str(snapshot["instance_id"]),
            received_at=str(snapshot["polled_at"]),
            include_raw=bool(snapshot.get("options", {}).get("include_raw", True)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        outcome = Outcome()
        outcome.invalid.append(_dead(outcome, "unreadable_record", f"not a snapshot: {exc!r}", raw))
        return outcome
    outcome = Outcome(provider=lineage.provider, instance_id=lineage.instance_id)
    _collect(outcome, normalizer(snapshot, lineage), snapshot, catalog)
    return outcome


def _collect(outcome: Outcome, result: Normalized, record: Any, catalog: Catalog) -> None:
    outcome.ignored = result.ignored
    for rejected in result.rejected:
        outcome.invalid.append(
            _dead(outcome, rejected.reason, rejected.message, record, rejected.element)
        )
    for event in result.events:
        problem = catalog.violation(event)
        if problem is None:
            outcome.events.append(event)
        else:
            message = f"{event['type']} breaks its schema: {problem}"
            outcome.invalid.append(_dead(outcome, "schema_violation", message, record, event))


def _dead(
    outcome: Outcome, reason: str, message: str, record: Any, element: Any = None
) -> dict[str, Any]:
    if isinstance(record, bytes):
        record = {"undecodable_base64": base64.b64encode(record).decode()}
    return invalid_record(
        stage="normalize",
        reason=reason,
        message=message,
        provider=None if outcome.provider == "unknown" else outcome.provider,
        instance_id=outcome.instance_id,
        record=record,
        element=element,
    )
