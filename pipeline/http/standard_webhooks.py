"""Standard Webhooks (https://www.standardwebhooks.com): `whsec_` secrets, `v1,` signatures.

Used on both sides: delivery signs each attempt; the ingress (`standard` provider), the demo
receiver and the bench's receiver verify. Secrets are parsed here, strictly and once for everyone:
the admin API's check and the signer's key must agree.

The HMAC is written here rather than taken from the `standardwebhooks` library, which the tests
use as the reference (same signatures, each side verifies the other's): measured with
`bench/micro/signing_timeit.py`, the library's `sign` takes about 1.5-2x the time of this one (it
wants the body as text and the time as a datetime) and its `verify` about 2x — a few µs per delivery
attempt against about 150 µs — and `verify` reads the clock itself, so the tolerance could not
be tested, and raises a bare `ValueError` on a malformed signature header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from secrets import token_bytes

from pipeline.errors import PipelineError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
_SECRET_BYTES = 32
_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() refuses `²`, and any length


class SecretFormatError(PipelineError, ValueError):
    """A signing secret is not `whsec_` + base64; the message never contains the secret."""

    code = "invalid_secret"


class SignatureMismatchError(PipelineError):
    """A request's Standard Webhooks headers are missing, stale or signed by no given secret."""

    code = "invalid_signature"


def generate_secret() -> str:
    """A new random signing secret, `whsec_` + base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(_SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; unpadded base64 is accepted, as receivers accept it."""
    if not secret.startswith(SECRET_PREFIX):
        raise SecretFormatError(f"signing secret must start with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise SecretFormatError("signing secret is not valid base64") from None
    if not key:
        raise SecretFormatError("signing secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "msg_id.timestamp.body">` under `secret`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one space-separated signature per active secret."""
    if not secrets:
        raise SecretFormatError("a subscription needs at least one signing secret")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes, *, now: float) -> None:
    """Accept the request if any signature in `webhook-signature` is one of `secrets`' signatures.

    `headers` are looked up by lower-case name. Raises `SignatureMismatchError` (or
    `SecretFormatError` for a secret that is not a `whsec_` secret).
    """
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    given = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and given):
        raise SignatureMismatchError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not _SECONDS.fullmatch(timestamp) or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureMismatchError("webhook-timestamp is not within 5 minutes of now")
    if not _encodable(msg_id):
        raise SignatureMismatchError("webhook-id is not valid UTF-8")
    # surrogatepass: a header's undecodable bytes arrive as lone surrogates
    candidates = [part.encode("utf-8", "surrogatepass") for part in given.split()]
    matched = False
    for secret in secrets:
        expected = sign(secret, msg_id, int(timestamp), body).encode()
        for candidate in candidates:
            matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise SignatureMismatchError("no webhook-signature matches the body")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
