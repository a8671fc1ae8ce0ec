"""Dead letters of ingestion (`events.invalid`): what could not be normalized, and why.

Every stage that gives up on a record (ingress, normalize, route, deliver) builds one
`InvalidRecord` and writes it with `encode_invalid`: a frozen msgspec Struct, like the delivery
records (`pipeline/delivery/tasks.py`), so mypy checks the shape where it is built.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from pipeline.contract.codec import Codec
from pipeline.events.cloudevent import rfc3339

INVALID_SCHEMA = "invalid-record/1"


class InternalException(msgspec.Struct, frozen=True, kw_only=True):
    """For reason `internal_error`: the unexpected exception's type and message."""

    type: str
    message: str


class InvalidRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One record (or one element of it) a stage could not process, as on `events.invalid`."""

    schema: str = INVALID_SCHEMA
    stage: str  # ingress, normalize, route or deliver
    reason: str
    message: str
    provider: str | None
    instance_id: str | None
    failed_at: str
    record: Any  # the raw record as read; bytes that are not JSON are kept as base64
    element: Any = None  # the element of a batch that failed; None when the whole record did
    # Absent (not null) unless the reason is internal_error, as the schema says.
    exception: InternalException | msgspec.UnsetType = msgspec.UNSET


def invalid_record(
    *,
    stage: str,
    reason: str,
    message: str,
    provider: str | None,
    instance_id: str | None,
    record: Any,
    element: Any = None,
    exception: InternalException | msgspec.UnsetType = msgspec.UNSET,
) -> InvalidRecord:
    """`record` is the raw record as it was; `element` the part of it that failed, if only one."""
    return InvalidRecord(
        stage=stage,
        reason=reason,
        message=message,
        provider=provider,
        instance_id=instance_id,
        failed_at=rfc3339(datetime.now(UTC)),
        record=record,
        element=element,
        exception=exception,
    )


INVALID = Codec(InvalidRecord)  # `events.invalid` values
decode_invalid = INVALID.decode
encode_invalid = INVALID.encode


def undecodable(raw: bytes | None) -> dict[str, str]:
    """How bytes that are not JSON are kept in a dead letter's `record`."""
    return {"undecodable_base64": base64.b64encode(raw or b"").decode()}


def decode_or_dead_letter(raw: bytes | None, stage: str) -> tuple[Any, InvalidRecord | None]:
    """(the JSON value, None), or (None, the dead letter to write) when `raw` is not JSON."""
    try:
        return orjson.loads(raw or b""), None
    except orjson.JSONDecodeError as exc:
        return None, invalid_record(
            stage=stage,
            reason="unreadable_record",
            message=f"not JSON: {exc}",
            provider=None,
            instance_id=None,
            record=undecodable(raw),
        )
