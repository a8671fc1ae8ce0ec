"""`webhooks.raw` | `polls.raw` record → CloudEvents and dead letters (normalize's pure half).

The envelope names the provider (or, for `polls.raw`, the provider and resource) whose module
reads the record: `registry` holds both tables. Nothing here touches Kafka, so every provider
mapping is unit-tested without a broker; the agent adds deduplication and the writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import CloudEvent, Lineage, parse_time, rfc3339
from pipeline.events.envelope import WebhookEnvelope, decode_envelope
from pipeline.events.invalid import InvalidRecord, invalid_record, undecodable
from pipeline.providers.base import (
    MAX_DEPTH,
    Normalized,
    PayloadError,
    Provider,
    brief,
    nests_deeper,
)
from pipeline.providers.registry import PROVIDERS, SNAPSHOT_NORMALIZERS, SnapshotNormalizer
from pipeline.providers.snapshot import PollSnapshot, decode_snapshot


@dataclass
class Outcome:
    """What one raw record became."""

    provider: str = "unknown"
    instance_id: str | None = None
    events: list[CloudEvent] = field(default_factory=list)
    invalid: list[InvalidRecord] = field(default_factory=list)
    ignored: int = 0


def normalize_webhook(raw: bytes | None, catalog: Catalog) -> Outcome:
    """Every element of the envelope's payload as a checked CloudEvent, or as a dead letter."""
    read = _read_envelope(raw)
    if isinstance(read, str):
        outcome = Outcome()
        outcome.invalid.append(_dead(outcome, "unreadable_record", f"not an envelope: {read}", raw))
        return outcome
    outcome = Outcome(provider=read.provider.name, instance_id=read.lineage.instance_id)
    try:
        payload = read.provider.parse(read.record.body)
    except PayloadError as exc:
        outcome.invalid.append(_dead(outcome, exc.code, str(exc), read.record))
        return outcome
    _collect(
        outcome,
        read.provider.normalize(payload, read.record.headers, read.lineage),
        read.record,
        catalog,
    )
    return outcome


def normalize_poll(raw: bytes | None, catalog: Catalog) -> Outcome:
    """A poller's snapshot as a checked CloudEvent, or as a dead letter."""
    read = _read_snapshot(raw)
    if isinstance(read, str):
        outcome = Outcome()
        outcome.invalid.append(_dead(outcome, "unreadable_record", f"not a snapshot: {read}", raw))
        return outcome
    snapshot, normalizer, lineage = read
    outcome = Outcome(provider=lineage.provider, instance_id=lineage.instance_id)
    _collect(outcome, normalizer(snapshot, lineage), msgspec.to_builtins(snapshot), catalog)
    return outcome


@dataclass(frozen=True)
class _Envelope:
    record: WebhookEnvelope
    provider: Provider
    lineage: Lineage


def _read_envelope(raw: bytes | None) -> _Envelope | str:
    """The envelope and what reads it, or what is wrong with it."""
    try:
        record = decode_envelope(raw or b"")
    except msgspec.DecodeError as exc:  # not JSON, or JSON that is not an envelope
        return str(exc)
    except RecursionError:  # msgspec's own limit, even for fields it would skip
        return "nests too deep to read"
    provider = PROVIDERS.get(record.provider)
    if provider is None:
        return f"no provider {brief(record.provider)}"
    received = parse_time(record.received_at)
    if received is None:
        return f"received_at {brief(record.received_at)} is not a time"
    options = record.options
    lineage = Lineage(
        provider=provider.name,
        instance_id=record.instance_id,
        received_at=rfc3339(received),
        include_raw=options.include_raw,
        identity="delivery"
        if isinstance(options.identity, msgspec.UnsetType)
        else options.identity,
    )
    return _Envelope(record, provider, lineage)


def _decoded_snapshot(raw: bytes | None) -> PollSnapshot | str:
    try:
        return decode_snapshot(raw or b"")
    except msgspec.DecodeError as exc:  # not JSON, or JSON that is not a snapshot
        return str(exc)
    except RecursionError:  # msgspec's own limit, even for fields it would skip
        return "nests too deep to read"


def _read_snapshot(raw: bytes | None) -> tuple[PollSnapshot, SnapshotNormalizer, Lineage] | str:
    """The parts of a `polls.raw` record, decoded once, or what is wrong with it."""
    snapshot = _decoded_snapshot(raw)
    if isinstance(snapshot, str):
        return snapshot
    if nests_deeper(snapshot.item):  # its dead letter could not be written
        return f"nests deeper than {MAX_DEPTH} levels"
    normalizer = SNAPSHOT_NORMALIZERS.get((snapshot.provider, snapshot.resource))
    if normalizer is None:
        return f"no poller writes {snapshot.provider!r} {brief(snapshot.resource)} snapshots"
    if not snapshot.instance_id:
        return "instance_id '' is not a non-empty string"
    polled = parse_time(snapshot.polled_at)
    if polled is None:
        return f"polled_at {brief(snapshot.polled_at)} is not a time"
    lineage = Lineage(
        provider=snapshot.provider,
        instance_id=snapshot.instance_id,
        received_at=rfc3339(polled),
        include_raw=snapshot.options.include_raw,
    )
    return snapshot, normalizer, lineage


def _json_object(raw: bytes | None) -> dict[str, Any] | str:
    try:
        record = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    if not isinstance(record, dict):
        return "not a JSON object"
    if nests_deeper(record):  # its dead letter could not be written
        return f"nests deeper than {MAX_DEPTH} levels"
    return record


def _lineage(provider: str, record: dict[str, Any], time_field: str) -> Lineage | str:
    instance_id, options = record.get("instance_id"), record.get("options", {})
    if not isinstance(instance_id, str) or not instance_id:
        return f"instance_id {brief(instance_id)} is not a non-empty string"
    received = parse_time(record.get(time_field))
    if received is None:
        return f"{time_field} {brief(record.get(time_field))} is not a time"
    if not isinstance(options, dict):
        return "options is not an object"
    return Lineage(
        provider=provider,
        instance_id=instance_id,
        received_at=rfc3339(received),
        include_raw=bool(options.get("include_raw", True)),
        identity=str(options.get("identity", "delivery")),
    )


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
) -> InvalidRecord:
    if isinstance(record, bytes) or record is None:
        record = undecodable(record)
    return invalid_record(
        stage="normalize",
        reason=reason,
        message=message,
        provider=None if outcome.provider == "unknown" else outcome.provider,
        instance_id=outcome.instance_id,
        record=record,
        element=element,
    )
