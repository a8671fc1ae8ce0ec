"""HMAC helpers shared by the providers; every comparison is constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Any

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


def hmac_hex(secret: str, message: bytes, digest: Any = hashlib.sha256) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def hmac_base64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality of a value from a request (any text a header or query carries:
    lone surrogates included, which `compare_digest` refuses as str) and the expected one."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def require_signature(secret: str | None, given: str, expected: str, header: str) -> None:
    """`SignatureError` unless `given` is `expected` (computed with a non-empty `secret`)."""
    if not secret:  # never an empty key: anyone could sign with it
        raise SignatureError("the instance has no signing secret")
    if not given:
        raise SignatureError(f"missing {header} header")
    if not same_text(given.strip(), expected):
        raise SignatureError(f"{header} does not match the body")
