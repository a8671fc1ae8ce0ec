"""What the social platforms' modules (meta, x, linkedin, tiktok, youtube) share.

Their events carry the same normalized fields whichever platform sent them (`platform`,
`account_id`, `text`, `author_id`, `author_name`, `parent_id`, …), so a comment is a
`comment.created` with the same data on Facebook, Instagram, X, LinkedIn or YouTube. A kind the
catalog has no type for yet becomes the catch-all `platform.event`, its kind named in `data.kind`
and its fields kept, so nothing a platform sends is dropped for being new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.events.cloudevent import CloudEvent, Lineage, build_event
from pipeline.providers.base import Rejected, brief, identifier, is_missing

CATCH_ALL = "platform.event"
# The normalized fields (typed by the catalog's schemas): a platform's own field of the same
# name, copied into a catch-all's data, could break its schema.
NORMALIZED_FIELDS = frozenset(
    {
        "platform",
        "account_id",
        "text",
        "author_id",
        "author_name",
        "parent_id",
        "url",
        "kind",
        "raw",
    }
)


def text(value: Any) -> str | None:
    """A string field as the catalog holds it: a string, or an integer id written as a number."""
    found = identifier(value)
    return found or None


def member(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]…`, or None where a step is not an object or lacks the key."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def object_id(value: Any, what: str, element: Any) -> str | Rejected:
    """The subject's id from `value`, or why there is none (`what` names where it was sought)."""
    if is_missing(value):
        return Rejected("missing_object_id", f"{what} is missing", element)
    found = identifier(value)
    if found is None:
        message = f"{what} {brief(value)} is neither a string nor an integer"
        return Rejected("invalid_object_id", message, element)
    return found


def first_id(value: Any, fields: tuple[str, ...]) -> Any:
    """The first of `fields` that `value` (an object) holds, for an id sought in several."""
    if not isinstance(value, dict):
        return None
    return next((value[name] for name in fields if not is_missing(value.get(name))), None)


@dataclass(frozen=True)
class Occurrence:
    """One platform occurrence, mapped: what `event` turns into a CloudEvent."""

    event_type: str
    object_id: str
    provider_event: str  # the platform's own name of the kind (`page:feed:comment:add`)
    identity: tuple[object, ...]  # the platform's identity of the occurrence (dedup)
    time: datetime
    fields: Mapping[str, Any]  # normalized data fields; None values are left out
    raw: Any


def event(lineage: Lineage, occurrence: Occurrence) -> CloudEvent:
    data = {name: value for name, value in occurrence.fields.items() if value is not None}
    if occurrence.event_type == CATCH_ALL:
        data["kind"] = occurrence.provider_event
    return build_event(
        lineage,
        identity=occurrence.identity,
        event_type=occurrence.event_type,
        object_id=occurrence.object_id,
        provider_event=occurrence.provider_event,
        time=occurrence.time,
        data=data,
        raw=occurrence.raw,
    )


def scalar_fields(value: Any) -> dict[str, Any]:
    """A catch-all's data: the platform object's top-level strings, numbers and booleans (the
    whole object stays under `raw`), so a consumer can filter on them without parsing `raw`."""
    if not isinstance(value, dict):
        return {}
    return {
        str(key): item
        for key, item in value.items()
        if isinstance(item, str | int | float | bool)
        and str(key) not in NORMALIZED_FIELDS
        and not str(key).endswith("_id")  # the subject's id field among them
    }
