"""Dead letters of ingestion (`events.invalid`): what could not be normalized, and why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
