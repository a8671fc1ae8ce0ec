"""Any Standard Webhooks sender: `webhook-id`, `webhook-timestamp`, `webhook-signature` headers.

The body is `{type, timestamp, data}` with `type` one of the normalized types; `webhook-id` is the
sender's identity of the occurrence, so its retries deduplicate.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from pipeline.delivery.errors import InvalidSecretError
from pipeline.delivery.signing import generate_secret, sign
from pipeline.events.cloudevent import Lineage, build_event, parse_time, snake_keys
from pipeline.events.types import EVENT_TYPES, ID_FIELDS
from pipeline.providers.base import Normalized, Rejected, SignatureError, decode_json

TOLERANCE_SECONDS = 300


class Standard:
    name = "standard"
    kept_headers: tuple[str, ...] = ("webhook-id", "webhook-timestamp")

    def new_secret(self) -> str | None:
        return generate_secret()

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        msg_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        signatures = headers.get("webhook-signature", "")
        if not (msg_id and timestamp and signatures):
            raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
        if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
            raise SignatureError("webhook-timestamp is not within 5 minutes of now")
        if not secret:
            raise SignatureError("the instance has no signing secret")
        try:
            expected = sign(secret, msg_id, int(timestamp), body)
        except InvalidSecretError as exc:
            raise SignatureError("the instance's signing secret is not a whsec_ secret") from exc
        matched = False
        for candidate in signatures.split():
            matched |= hmac.compare_digest(candidate.encode(), expected.encode())
        if not matched:
            raise SignatureError("no webhook-signature matches the body")

    def parse(self, body: bytes) -> Any:
        return decode_json(body, dict, "a JSON object {type, timestamp, data}")

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        event_type, data = payload.get("type"), payload.get("data")
        if event_type not in EVENT_TYPES:
            result.rejected.append(
                Rejected("unknown_event_type", f"type {event_type!r} is not a normalized type")
            )
            return result
        if not isinstance(data, dict):
            result.rejected.append(Rejected("missing_data", f"{event_type} has no data object"))
            return result
        id_field = ID_FIELDS[EVENT_TYPES[event_type]]
        object_id = data.get(id_field) or data.get("id")
        if object_id in (None, ""):
            message = f"{event_type} data lacks {id_field} or id"
            result.rejected.append(Rejected("missing_object_id", message))
            return result
        occurred = (
            parse_time(payload.get("timestamp"))
            or parse_time(headers.get("webhook-timestamp"))
            or lineage.received_time
        )
        result.events.append(
            build_event(
                lineage,
                identity=(headers.get("webhook-id", ""),),
                event_type=event_type,
                object_id=str(object_id),
                provider_event=event_type,
                time=occurred,
                data=snake_keys(data),
                raw=payload,
            )
        )
        return result
