"""TikTok: one event per POST, `{client_key, event, create_time, user_openid, content}`.

Signature: `TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256 of "<t>.<raw body>" with the
client secret>`, refused more than 5 minutes from now (a replayed request). TikTok retries for up to
72 hours and sends no event id: an event is identified by its name, user, `create_time` and a
digest of its `content` (a JSON object written as a string).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from pipeline.events.cloudevent import Lineage, parse_time
from pipeline.providers.base import (
    Normalized,
    Rejected,
    SignatureError,
    brief,
    content_digest,
    decode_json,
    unusable,
)
from pipeline.providers.signatures import hmac_hex, require_signature
from pipeline.providers.social import CATCH_ALL, Occurrence, event, first_id, object_id, text

SIGNATURE_HEADER = "tiktok-signature"
SHAPE = "a JSON object {client_key, event, create_time, user_openid, content}"
TOLERANCE_SECONDS = 300
# event → (normalized type, content fields holding the subject's id, first found)
EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "post.publish.complete": ("post.sent", ("publish_id",)),
    "post.publish.publicly_available": ("post.published", ("post_id", "publish_id")),
    "post.publish.failed": ("post.failed", ("publish_id",)),
    "video.upload.failed": ("post.failed", ("share_id", "publish_id")),
}


class TikTok:
    name = "tiktok"
    kept_headers: tuple[str, ...] = ()
    empty_acknowledgement = False

    def new_secret(self) -> str | None:
        return None  # the client secret is TikTok's to issue

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        parts = [
            part.strip().partition("=") for part in headers.get(SIGNATURE_HEADER, "").split(",")
        ]
        found = {name: value for name, _, value in parts}
        stamp, given = found.get("t", ""), found.get("s", "")
        if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
            raise SignatureError("TikTok-Signature has no t=<unix seconds>")
        if abs(now - int(stamp)) > TOLERANCE_SECONDS:
            raise SignatureError("TikTok-Signature is more than 5 minutes from now")
        expected = hmac_hex(secret or "", stamp.encode() + b"." + body)
        require_signature(secret, given.lower(), expected, "TikTok-Signature")

    def parse(self, body: bytes) -> Any:
        return decode_json(body, dict, SHAPE)

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        outcome = unusable(payload, dict, SHAPE) or _normalize(payload, lineage)
        if isinstance(outcome, Rejected):
            result.rejected.append(outcome)
        else:
            result.events.append(event(lineage, outcome))
        return result


def content_of(value: Any) -> dict[str, Any]:
    """`content` is JSON written as a string; an object is taken as it is, anything else: {}."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _normalize(payload: dict[str, Any], lineage: Lineage) -> Occurrence | Rejected:
    name, user = payload.get("event"), text(payload.get("user_openid"))
    if not isinstance(name, str) or not name:
        return Rejected("unknown_event_type", f"event {brief(name)} is not a TikTok event name")
    content = content_of(payload.get("content"))
    if name == "authorization.removed":  # the user took the app's access away
        event_type, subject = "integration.uninstalled", user
    else:
        event_type, id_fields = EVENTS.get(name, (CATCH_ALL, ()))
        subject = first_id(content, id_fields) or user
    found = object_id(subject, f"{name} object id", payload)
    if isinstance(found, Rejected):
        return found
    fields = {
        "platform": "tiktok",
        "account_id": user,
        **{key: text(content.get(key)) for key in ("publish_id", "publish_type", "reason")},
    }
    identity = (name, user, payload.get("create_time"), content_digest(content))
    return Occurrence(
        event_type=event_type,
        object_id=found,
        provider_event=name,
        identity=identity,
        time=parse_time(payload.get("create_time")) or lineage.received_time,
        fields=fields,
        raw=payload,
    )
