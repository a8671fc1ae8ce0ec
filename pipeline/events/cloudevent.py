"""Building CloudEvents 1.0 (JSON structured mode) the same way for every provider.

`id` is a UUIDv5 of the provider's own identity of the occurrence, so a resend or a repeated poll
maps to the same id and `source` + `id` deduplicates it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.events.types import ID_FIELDS, entity_of

ID_NAMESPACE = uuid.UUID("6f1c1f5e-2d0a-4b7e-9a51-3c8f0e6b9d21")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def event_id(*identity: object) -> str:
    """Deterministic id from the parts that identify one occurrence at the provider."""
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(str(part) for part in identity)))


def rfc3339(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(value: object) -> datetime | None:
    """Provider times: unix seconds or ms, ISO 8601, or Oktopost's `YYYY-MM-DD HH:MM:SS` (UTC)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return parse_time(int(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def snake_case(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def snake_keys(value: Any) -> Any:
    """Provider objects → snake_case keys, recursively; times ending in `At` become RFC 3339."""
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            name = snake_case(str(key))
            moment = parse_time(item) if name.endswith("_at") else None
            converted[name] = rfc3339(moment) if moment else snake_keys(item)
        return converted
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


@dataclass(frozen=True)
class Lineage:
    """Where an event came from: provider, instance and the moment the pipeline received it."""

    provider: str
    instance_id: str
    received_at: str
    include_raw: bool = True

    @property
    def received_time(self) -> datetime:
        return parse_time(self.received_at) or datetime.now(UTC)


def build_event(
    lineage: Lineage,
    *,
    identity: tuple[object, ...],
    event_type: str,
    object_id: str,
    provider_event: str,
    time: datetime,
    data: dict[str, Any],
    raw: Any,
) -> dict[str, Any]:
    """One normalized event; `data` gains the subject's id field and, unless off, `raw`."""
    entity = entity_of(event_type)
    body = {**data, ID_FIELDS[entity]: object_id}
    if lineage.include_raw:
        body["raw"] = raw
    return {
        "specversion": "1.0",
        "id": event_id(lineage.provider, lineage.instance_id, *identity),
        "source": f"/instances/{lineage.instance_id}",
        "type": event_type,
        "subject": f"{entity}/{object_id}",
        "time": rfc3339(time),
        "datacontenttype": "application/json",
        "provider": lineage.provider,
        "providerevent": provider_event,
        "instanceid": lineage.instance_id,
        "receivedat": lineage.received_at,
        "data": body,
    }
