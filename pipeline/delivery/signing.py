"""deliver agent → subscriber: Standard Webhooks signatures and headers for one delivery attempt.

The signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`; the key is the base64 part of a
`whsec_…` secret (`pipeline.http.standard_webhooks`, shared with the admin API and the ingress).
During secret rotation every current secret signs, and the receiver accepts the request if any one
signature matches.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import orjson

from pipeline.delivery.errors import InvalidSecretError
from pipeline.http.standard_webhooks import SecretFormatError, signature_header

CONTENT_TYPE = "application/cloudevents+json"

# 26 base32 characters carry 130 bits: collisions are not a concern for ids receivers dedupe on.
_ID_CHARS = 26


def delivery_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header of one delivery attempt; `timestamp` is the attempt's time, not the event's."""
    try:
        signature = signature_header(secrets, msg_id, timestamp, body)
    except SecretFormatError as exc:
        raise InvalidSecretError(str(exc)) from None
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": CONTENT_TYPE,
    }


def webhook_id(subscription_id: str, event_source: str, event_id: str) -> str:
    """`msg_…`, the same for every retry of one event to one subscription, so receivers can dedupe.

    The parts are JSON-encoded before hashing so that no two different triples hash the same input
    (plain joining would make `("a.b", "c")` and `("a", "b.c")` collide).
    """
    identity = orjson.dumps([subscription_id, event_source, event_id])
    digest = base64.b32encode(hashlib.sha256(identity).digest()).decode("ascii")
    return "msg_" + digest[:_ID_CHARS].lower()
