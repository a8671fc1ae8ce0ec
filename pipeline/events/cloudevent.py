"""Building CloudEvents 1.0 (JSON structured mode) the same way for every provider.

`id` is a UUIDv5 of the provider's own identity of the occurrence, so a resend or a repeated poll
maps to the same id and `source` + `id` deduplicates it.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from pipeline.events.types import ID_FIELDS, entity_of

ID_NAMESPACE = uuid.UUID("6f1c1f5e-2d0a-4b7e-9a51-3c8f0e6b9d21")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
# The moments `datetime` holds, as unix seconds: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_UNIX_SECONDS = -62_135_596_800
_MAX_UNIX_SECONDS = 253_402_300_799
_MS_ABOVE = 1e11
_MAX_UNIX_DIGITS = len(str(_MAX_UNIX_SECONDS * 1000))


class CloudEvent(TypedDict):
    """A normalized event as on `events.normalized` (`topics/schemas/`): the CloudEvents 1.0
    attributes, the pipeline's extensions and `data`, in the order they are written."""

    specversion: str
    id: str
    source: str  # `/instances/<instance id>`
    type: str
    subject: str  # `<entity>/<object id>`
    time: str  # RFC 3339, when it happened at the provider
    datacontenttype: str
    provider: str
    providerevent: str
    instanceid: str
    receivedat: str  # RFC 3339, when the pipeline received it
    data: dict[str, Any]


def event_id(*identity: object) -> str:
    """Deterministic id from the parts that identify one occurrence at the provider."""
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(str(part) for part in identity)))


def rfc3339(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix; the year always has four digits (`0005-…`)."""
    u = moment.astimezone(UTC)
    # %-formatting: a third of strftime's time, and it runs for every delivery task and attempt
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond // 1000)
    )


def parse_time(value: object) -> datetime | None:
    """Provider times: unix seconds or ms, ISO 8601, or Oktopost's `YYYY-MM-DD HH:MM:SS` (UTC).

    The result is in UTC; anything else — another type, text that is not a time, a moment outside
    the years 1 to 9999 (`1e308`, `10**40`, NaN) — is None, so that callers fall back.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_unix(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # not `²` or `١٢٣`, which int() refuses
        return _from_unix(int(text)) if len(text) <= _MAX_UNIX_DIGITS else None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not ISO 8601, or out of range once moved to UTC
        return None


def _from_unix(value: float) -> datetime | None:
    """Unix seconds, or milliseconds above 1e11 (the year 5138 in seconds); None out of range."""
    # Compared before dividing: `10**400 / 1000` overflows a float; NaN fails both comparisons.
    if not _MIN_UNIX_SECONDS <= value <= _MAX_UNIX_SECONDS * 1000:
        return None
    seconds = value / 1000 if value > _MS_ABOVE else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):  # past year 9999 or before year 1
        return None


@functools.lru_cache(maxsize=4096)  # a provider's field names repeat; bounded for any others
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
    # "delivery": the provider's ids of the delivery; "content": what happened (see oktopost.py)
    identity: str = "delivery"

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
) -> CloudEvent:
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
