"""Dead letters of ingestion (`events.invalid`): what could not be normalized, and why."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline.events.cloudevent import rfc3339


def invalid_record(
    *,
    stage: str,
    reason: str,
    message: str,
    provider: str | None,
    instance_id: str | None,
    record: Any,
    element: Any = None,
) -> dict[str, Any]:
    """`record` is the raw record as it was; `element` the part of it that failed, if only one."""
    return {
        "schema": "invalid-record/1",
        "stage": stage,
        "reason": reason,
        "message": message,
        "provider": provider,
        "instance_id": instance_id,
        "failed_at": rfc3339(datetime.now(UTC)),
        "record": record,
        "element": element,
    }


def decode_or_dead_letter(raw: bytes | None, stage: str) -> tuple[Any, dict[str, Any] | None]:
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
            record={"undecodable_base64": base64.b64encode(raw or b"").decode()},
        )
