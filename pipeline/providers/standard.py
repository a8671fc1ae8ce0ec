"""Any Standard Webhooks sender: `webhook-id`, `webhook-timestamp`, `webhook-signature` headers.

The body is `{type, timestamp, data}` with `type` one of the normalized types; `webhook-id` is the
sender's identity of the occurrence, so its retries deduplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.events.cloudevent import CloudEvent, Lineage, build_event, parse_time, snake_keys
from pipeline.events.types import ID_FIELDS, entity_of, is_event_type
from pipeline.http.standard_webhooks import (
    SecretFormatError,
    SignatureMismatchError,
    generate_secret,
    verify,
)
from pipeline.providers.base import (
    Normalized,
    Rejected,
    SignatureError,
    brief,
    decode_json,
    identifier,
    is_missing,
    unusable,
)

SHAPE = "a JSON object {type, timestamp, data}"


class Standard:
    name = "standard"
    kept_headers: tuple[str, ...] = ("webhook-id", "webhook-timestamp")
    empty_acknowledgement = False

    def new_secret(self) -> str | None:
        return generate_secret()

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        if not secret:
            raise SignatureError("the instance has no signing secret")
        try:
            verify([secret], headers, body, now=now)
        except SignatureMismatchError as exc:
            raise SignatureError(str(exc)) from None
        except SecretFormatError as exc:
            raise SignatureError("the instance's signing secret is not a whsec_ secret") from exc

    def parse(self, body: bytes) -> Any:
        return decode_json(body, dict, SHAPE)

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        outcome = unusable(payload, dict, SHAPE) or _normalize(payload, headers, lineage)
        if isinstance(outcome, Rejected):
            result.rejected.append(outcome)
        else:
            result.events.append(outcome)
        return result


def _normalize(
    payload: dict[str, Any], headers: Mapping[str, str], lineage: Lineage
) -> CloudEvent | Rejected:
    event_type, data = payload.get("type"), payload.get("data")
    if not is_event_type(event_type):
        return Rejected("unknown_event_type", f"type {brief(event_type)} is not a normalized type")
    if not isinstance(data, dict):
        return Rejected("missing_data", f"{event_type} has no data object")
    id_field = ID_FIELDS[entity_of(event_type)]
    found = data.get(id_field) or data.get("id")
    if is_missing(found):
        return Rejected("missing_object_id", f"{event_type} data lacks {id_field} or id")
    object_id = identifier(found)
    if object_id is None:
        message = f"{event_type} object id {brief(found)} is neither a string nor an integer"
        return Rejected("invalid_object_id", message)
    occurred = (
        parse_time(payload.get("timestamp"))
        or parse_time(headers.get("webhook-timestamp"))
        or lineage.received_time
    )
    return build_event(
        lineage,
        identity=(headers.get("webhook-id", ""),),
        event_type=event_type,
        object_id=object_id,
        provider_event=event_type,
        time=occurred,
        data=snake_keys(data),
        raw=payload,
    )
