from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pipeline.delivery.errors import InvalidSecretError
from pipeline.delivery.signing import (
    delivery_headers,
    generate_secret,
    sign,
    signature_header,
    webhook_id,
)

BODY = b'{"specversion":"1.0","id":"e1","source":"/x","type":"t"}'


def test_generated_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_signature_matches_the_reference_implementation() -> None:
    secret = generate_secret()
    timestamp = 1_700_000_000
    expected = Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(timestamp, tz=UTC), BODY.decode()
    )
    assert sign(secret, "msg_1", timestamp, BODY) == expected


def test_headers_verify_with_standardwebhooks() -> None:
    secret = generate_secret()
    headers = delivery_headers([secret], "msg_abc", int(time.time()), BODY)
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["webhook-id"] == "msg_abc"
    assert Webhook(secret).verify(BODY, headers)["id"] == "e1"


def test_rotated_secrets_both_verify_and_others_do_not() -> None:
    current, previous = generate_secret(), generate_secret()
    headers = delivery_headers([current, previous], "msg_abc", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (current, previous):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_tampered_body_or_id_fails_verification() -> None:
    secret = generate_secret()
    headers = delivery_headers([secret], "msg_abc", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"e1", b"e2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "msg_other"})


def test_unpadded_secret_signs_like_the_padded_one() -> None:
    secret = generate_secret()
    assert secret.endswith("=")
    assert sign(secret.rstrip("="), "m", 1, BODY) == sign(secret, "m", 1, BODY)


@pytest.mark.parametrize(
    "secret",
    ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64!"],
)
def test_invalid_secret_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(InvalidSecretError) as caught:
        sign(secret, "m", 1, BODY)
    assert caught.value.retriable is False
    assert secret.removeprefix("whsec_") not in str(caught.value)


def test_no_secret_is_an_error_not_an_empty_header() -> None:
    with pytest.raises(InvalidSecretError):
        sign("whsec_", "m", 1, BODY)
    with pytest.raises(InvalidSecretError):
        signature_header([], "m", 1, BODY)


def test_webhook_id_is_stable_and_distinguishes_its_inputs() -> None:
    first = webhook_id("sub-1", "/oktopost", "evt-9")
    assert first == webhook_id("sub-1", "/oktopost", "evt-9")
    assert first.startswith("msg_")
    assert len(first) == len("msg_") + 26
    assert first[4:].isalnum()
    others = {
        webhook_id("sub-2", "/oktopost", "evt-9"),
        webhook_id("sub-1", "/hootsuite", "evt-9"),
        webhook_id("sub-1", "/oktopost", "evt-10"),
    }
    assert first not in others
    assert len(others) == 3


def test_webhook_id_parts_cannot_run_into_each_other() -> None:
    assert webhook_id("a.b", "c", "d") != webhook_id("a", "b.c", "d")
    assert webhook_id("a", "b", "c|d") != webhook_id("a", "b|c", "d")
