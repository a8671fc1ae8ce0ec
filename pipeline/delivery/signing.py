"""deliver agent → subscriber: Standard Webhooks signatures and headers for one delivery attempt.

The signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`; the key is the base64 part of a
`whsec_…` secret. During secret rotation every current secret signs, and the receiver accepts the
request if any one signature matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from secrets import token_bytes

import orjson

from pipeline.delivery.errors import InvalidSecretError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
SIGNATURE_VERSION = "v1"
CONTENT_TYPE = "application/cloudevents+json"

_SECRET_BYTES = 32
# 26 base32 characters carry 130 bits: collisions are not a concern for ids receivers dedupe on.
_ID_CHARS = 26


def generate_secret() -> str:
    """A new random signing secret, `whsec_` + base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(_SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecretError(f"signing secret must start with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    # Receivers' libraries accept unpadded base64, so the sender does too.
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidSecretError("signing secret is not valid base64") from None
    if not key:
        raise InvalidSecretError("signing secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "msg_id.timestamp.body">` under `secret`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one space-separated signature per active secret."""
    if not secrets:
        raise InvalidSecretError("a subscription needs at least one signing secret")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def delivery_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header of one delivery attempt; `timestamp` is the attempt's time, not the event's."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
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
