from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pipeline.delivery.errors import InvalidSecretError
from pipeline.delivery.signing import delivery_headers, webhook_id
from pipeline.http.standard_webhooks import generate_secret, sign

BODY = b'{"specversion":"1.0","id":"e1","source":"/x","type":"t"}'


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


@pytest.mark.parametrize(
    "secret",
    ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64!"],
)
def test_a_bad_secret_is_a_delivery_error_that_does_not_retry(secret: str) -> None:
    with pytest.raises(InvalidSecretError) as caught:
        delivery_headers([secret], "m", 1, BODY)
    assert caught.value.retriable is False
    assert secret.removeprefix("whsec_") not in str(caught.value)


def test_no_secret_is_an_error_not_an_empty_header() -> None:
    with pytest.raises(InvalidSecretError):
        delivery_headers([], "m", 1, BODY)


def test_unpadded_secret_signs_like_the_padded_one() -> None:
    secret = generate_secret()
    assert secret.endswith("=")
    unpadded = delivery_headers([secret.rstrip("=")], "m", 1, BODY)
    assert unpadded == delivery_headers([secret], "m", 1, BODY)
    assert unpadded["webhook-signature"] == sign(secret, "m", 1, BODY)


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
