"""deliver agent → subscriber: the body a subscription's `format` asks for, and its own headers.

- `cloudevents` (the default): the CloudEvent exactly as on `events.normalized`.
- `cloud-elements`: the body Cloud Elements sends to an event notification callback — its
  standardized event objects (`objectType`, `objectId`, `eventType`, `elementKey`, `date`) with
  the instance's ids and the raw provider payload — signed with `Elements-Webhook-Signature:
  sha256=<base64 HMAC-SHA256 of the raw body>` under the subscription's signature key, for
  callback handlers written against Cloud Elements. The Standard Webhooks headers sign it too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import msgspec
import orjson

from pipeline.config.subscriptions import Subscription

CLOUD_ELEMENTS = "cloud-elements"
SIGNATURE_HEADER = "Elements-Webhook-Signature"
JSON_CONTENT_TYPE = "application/json"
# The last word of a normalized type → Cloud Elements' eventType; the rest are state changes.
_EVENT_TYPES = {"created": "CREATED", "deleted": "DELETED"}
_UNKNOWN_ENTITIES = ("integration", "pipeline")


def render(subscription: Subscription, event: msgspec.Raw) -> tuple[bytes, dict[str, str]]:
    """The body to POST and the headers this format adds (or overrides); `event`: the
    CloudEvent's JSON."""
    if subscription.format != CLOUD_ELEMENTS:
        return bytes(memoryview(event)), {}
    body = orjson.dumps(cloud_elements_body(orjson.loads(memoryview(event))))
    key = subscription.signature_key or subscription.secret
    return body, {
        "content-type": JSON_CONTENT_TYPE,
        SIGNATURE_HEADER: elements_signature(key, body),
    }


def elements_signature(key: str, body: bytes) -> str:
    """`sha256=<base64 HMAC-SHA256(key, body)>`, as Cloud Elements signs its callbacks."""
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def event_type_of(normalized_type: str) -> str:
    """CREATED, UPDATED, DELETED or UNKNOWN for a normalized type."""
    entity, _, change = normalized_type.partition(".")
    if entity in _UNKNOWN_ENTITIES:
        return "UNKNOWN"
    return _EVENT_TYPES.get(change.rsplit("_", 1)[-1], "UPDATED")


def cloud_elements_body(event: dict[str, Any]) -> dict[str, Any]:
    """One event notification holding one standardized event object."""
    collection, _, object_id = str(event.get("subject", "")).partition("/")
    given = event.get("data")
    data: dict[str, Any] = given if isinstance(given, dict) else {}
    element = event.get("provider")
    standardized = {
        "objectType": collection,
        "objectId": object_id,
        "eventType": event_type_of(str(event.get("type", ""))),
        "elementKey": element,
        "date": event.get("time"),
    }
    return {
        "message": {
            "eventId": event.get("id"),
            "elementKey": element,
            "instanceId": event.get("instanceid"),
            "instance_id": event.get("instanceid"),
            "events": [standardized],
            "raw": data.get("raw", data),
            "pipelineEventType": event.get("type"),
        }
    }
