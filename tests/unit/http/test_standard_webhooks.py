"""pipeline.http.standard_webhooks: one secret parser; signatures equal the reference library's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from pipeline.http.standard_webhooks import (
    SecretFormatError,
    SignatureMismatchError,
    generate_secret,
    secret_key,
    sign,
    signature_header,
    verify,
)

BODY = b'{"type":"post.sent","data":{"post_id":"p1"}}'
NOW = 1_700_000_000


def _headers(signature: str, timestamp: int = NOW, msg_id: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_generated_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_signature_matches_the_reference_implementation() -> None:
    secret = generate_secret()
    expected = Webhook(secret).sign("msg_1", datetime.fromtimestamp(NOW, tz=UTC), BODY.decode())
    assert sign(secret, "msg_1", NOW, BODY) == expected
    assert expected.startswith("v1,")


def test_what_the_reference_library_signs_verifies_here() -> None:
    secret = generate_secret()
    moment = datetime.fromtimestamp(NOW, tz=UTC)
    signature = Webhook(secret).sign("msg_1", moment, BODY.decode())
    verify([secret], _headers(signature), BODY, now=NOW)


def test_an_unpadded_secret_has_the_padded_secrets_key() -> None:
    secret = generate_secret()
    assert secret.endswith("=")
    assert secret_key(secret.rstrip("=")) == secret_key(secret)


@pytest.mark.parametrize(
    "secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64!", "whsec_Q"]
)
def test_a_secret_that_is_not_whsec_base64_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(SecretFormatError) as caught:
        secret_key(secret)
    assert secret.removeprefix("whsec_") not in str(caught.value)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(SecretFormatError, match="empty"):
        secret_key("whsec_")


def test_rotation_signs_with_every_secret_space_separated() -> None:
    current, previous = generate_secret(), generate_secret()
    header = signature_header([current, previous], "msg_1", NOW, BODY)
    assert header.split(" ") == [sign(s, "msg_1", NOW, BODY) for s in (current, previous)]
    with pytest.raises(SecretFormatError):
        signature_header([], "msg_1", NOW, BODY)


def test_verify_accepts_any_matching_signature_among_several() -> None:
    secret = generate_secret()
    header = f"v1,{base64.b64encode(b'x' * 32).decode()} {sign(secret, 'msg_1', NOW, BODY)}"
    verify([secret], _headers(header), BODY, now=NOW + 299)
    verify([generate_secret(), secret], _headers(sign(secret, "msg_1", NOW, BODY)), BODY, now=NOW)


@pytest.mark.parametrize(
    ("headers", "body", "now", "problem"),
    [
        ({}, BODY, NOW, "missing"),
        ("stale", BODY, NOW + 301, "within 5 minutes"),
        ("stale", BODY, NOW - 301, "within 5 minutes"),
        ("tampered", BODY + b" ", NOW, "no webhook-signature"),
        ("other id", BODY, NOW, "no webhook-signature"),
        ("junk", BODY, NOW, "no webhook-signature"),
        ("timestamp", BODY, NOW, "within 5 minutes"),
    ],
)
def test_verify_refuses(headers: object, body: bytes, now: int, problem: str) -> None:
    secret = generate_secret()
    good = _headers(sign(secret, "msg_1", NOW, BODY))
    cases: dict[object, dict[str, str]] = {
        "stale": good,
        "tampered": good,
        "other id": {**good, "webhook-id": "msg_2"},
        "junk": {**good, "webhook-signature": "v1 nocomma ,,, v1,@@@"},
        "timestamp": {**good, "webhook-timestamp": "1e9"},
    }
    given = cases.get(headers, {}) if isinstance(headers, str) else {}
    with pytest.raises(SignatureMismatchError) as caught:
        verify([secret], given, body, now=now)
    assert problem in str(caught.value)
