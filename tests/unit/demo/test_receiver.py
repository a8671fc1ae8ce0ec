"""pipeline.demo.receiver: the demo subscriber checks the signature and the timestamp tolerance."""

from __future__ import annotations

from pipeline.demo.receiver import verdict
from pipeline.http.standard_webhooks import generate_secret, sign

BODY = b'{"type":"post.sent"}'
NOW = 1_700_000_000


def _headers(secret: str, timestamp: int) -> dict[str, str]:
    return {
        "Webhook-Id": "msg_1",
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": sign(secret, "msg_1", timestamp, BODY),
    }


def test_a_fresh_signed_delivery_is_ok() -> None:
    secret = generate_secret()
    assert verdict(secret, _headers(secret, NOW), BODY, NOW + 10) == "signature ok"


def test_a_replayed_delivery_outside_the_tolerance_is_refused() -> None:
    secret = generate_secret()
    answer = verdict(secret, _headers(secret, NOW), BODY, NOW + 301)
    assert answer.startswith("BAD SIGNATURE")
    assert "5 minutes" in answer


def test_another_secret_or_body_is_refused_and_no_secret_is_unchecked() -> None:
    secret = generate_secret()
    headers = _headers(secret, NOW)
    assert verdict(generate_secret(), headers, BODY, NOW).startswith("BAD SIGNATURE")
    assert verdict(secret, headers, BODY + b" ", NOW).startswith("BAD SIGNATURE")
    assert verdict("not-a-secret", headers, BODY, NOW).startswith("BAD SIGNATURE")
    assert verdict(None, headers, BODY, NOW) == "unchecked"
