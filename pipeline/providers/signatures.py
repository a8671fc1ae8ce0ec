"""HMAC helpers shared by the providers; every comparison is constant-time."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from pipeline.providers.base import SignatureError

HEX_DIGESTS = {64: hashlib.sha256, 40: hashlib.sha1}
_HEX = re.compile(r"[0-9a-f]+")


def strip_scheme(signature: str) -> str:
    """`sha256=abc…` and `abc…` both → `abc…` (senders differ in whether they prefix)."""
    value = signature.strip().lower()
    for prefix in ("sha256=", "sha1="):
        value = value.removeprefix(prefix)
    return value


def verify_hex(secret: str, signature: str, messages: Iterable[bytes], header: str) -> None:
    """Accept a hex HMAC of any of `messages`; SHA-256 or SHA-1, told apart by length."""
    given = strip_scheme(signature)
    if not given:
        raise SignatureError(f"missing {header} header")
    digest = HEX_DIGESTS.get(len(given))
    # compare_digest raises on non-ASCII text, which a header can carry
    if digest is None or not _HEX.fullmatch(given):
        raise SignatureError(f"{header} is not a hex HMAC-SHA256 or HMAC-SHA1")
    key = secret.encode()
    matched = False
    for message in messages:
        expected = hmac.new(key, message, digest).hexdigest()
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureError(f"{header} does not match the body")
