"""Secret fields of `config.*` records are sealed on the way out and opened on the way in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec
import orjson
import pytest

from pipeline.config.instances import OktopostWebhook, create_instance, encode_instance
from pipeline.config.keyring import new_key_entry, parse_key_ring
from pipeline.config.sealing import (
    ConfigCodec,
    UnreadableConfigError,
    needs_resealing,
    open_instance,
    open_subscription,
    seal_instance,
    seal_subscription,
)
from pipeline.config.subscriptions import create_subscription, rotate_secret
from tests.support.contract import assert_valid, validator

RING = parse_key_ring(new_key_entry("k1"))
SUBSCRIBE = {"name": "n", "url": "https://example.com/h", "signature_key": "k"}


def test_instance_secrets_and_credentials_are_sealed_and_round_trip() -> None:
    instance, _ = create_instance(
        {
            "provider": "hootsuite",
            "id": "h1",
            "signing_secret": "hoot-signing-secret",
            "credentials": {"client_id": "cid", "client_secret": "c-secret", "refresh_token": None},
        }
    )
    raw = seal_instance(RING, instance)
    for secret in (b"hoot-signing-secret", b"c-secret"):
        assert secret not in raw
    record = orjson.loads(raw)
    assert record["signing_secret"].startswith("enc:v1:k1:")
    assert record["credentials"]["refresh_token"] is None
    assert (record["id"], record["provider"]) == ("h1", "hootsuite")  # the rest stays readable
    assert open_instance(RING, raw) == instance
    assert not needs_resealing(RING, "config.instances", raw)


def test_subscription_secrets_including_the_previous_one_are_sealed() -> None:
    subscription = create_subscription({"name": "n", "url": "https://example.com/h"})
    rotated = rotate_secret(subscription)
    assert rotated.previous_secret == subscription.secret
    raw = seal_subscription(RING, rotated)
    assert subscription.secret.encode() not in raw
    assert rotated.secret.encode() not in raw
    assert open_subscription(RING, raw) == rotated


def test_a_plain_record_from_before_opens_and_is_due_for_sealing() -> None:
    instance, _ = create_instance({"provider": "oktopost", "signing_secret": "legacy"})
    plain = encode_instance(instance)
    assert open_instance(RING, plain) == instance
    assert needs_resealing(RING, "config.instances", plain)
    newer = parse_key_ring(f"{new_key_entry('k2')},{new_key_entry('k1')}")
    assert needs_resealing(newer, "config.instances", seal_instance(RING, instance))


def test_the_onboarding_secrets_are_sealed_too() -> None:
    """Cloud Elements' callback signature key, the Secrets of managed Oktopost webhooks and a
    subscription's own signature key (issue 14's fields) never reach Kafka in the clear."""
    instance, _ = create_instance({"provider": "oktopost", "id": "o1", "signing_secret": "s"})
    instance = msgspec.structs.replace(
        instance,
        callback_signature_key="ce-signature-key",
        oktopost_webhooks={"wh1": OktopostWebhook(event="postSent", secret="okto-webhook-secret")},
    )
    raw = seal_instance(RING, instance)
    assert b"ce-signature-key" not in raw
    assert b"okto-webhook-secret" not in raw
    assert orjson.loads(raw)["oktopost_webhooks"]["wh1"]["event"] == "postSent"
    assert open_instance(RING, raw) == instance
    subscription = create_subscription(
        {"name": "ce", "url": "https://example.com/hook", "signature_key": "sub-signature-key"}
    )
    raw = seal_subscription(RING, subscription)
    assert b"sub-signature-key" not in raw
    assert open_subscription(RING, raw) == subscription


def test_a_record_from_before_the_newer_fields_opens_with_their_defaults() -> None:
    """Records already on the topics: only the required fields, secrets still plain."""
    instance = open_instance(
        RING,
        b'{"id": "i1", "provider": "standard", "name": "n", "enabled": true,'
        b' "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",'
        b' "signing_secret": "plain"}',
    )
    assert (instance.signing_secret, instance.include_raw) == ("plain", True)
    assert (instance.polling, instance.credentials, instance.oktopost_webhooks) == ({}, {}, {})
    assert (instance.callback_format, instance.tags, instance.oktopost_events) == (
        "cloudevents",
        [],
        None,
    )
    subscription = open_subscription(
        RING,
        b'{"id": "s1", "name": "n", "url": "https://example.com/h", "event_types": ["*"],'
        b' "enabled": true, "secret": "whsec_plain", "created": "", "modified": ""}',
    )
    assert (subscription.secret, subscription.format, subscription.signature_key) == (
        "whsec_plain",
        "cloudevents",
        None,
    )
    assert subscription.signing_secrets(datetime.now(UTC)) == ["whsec_plain"]


def test_the_sealed_records_hold_exactly_the_schemas_fields() -> None:
    instance, _ = create_instance({"provider": "oktopost", "id": "o1", "signing_secret": "s"})
    instance = msgspec.structs.replace(
        instance, oktopost_webhooks={"wh1": OktopostWebhook(event="postSent", secret="x")}
    )
    for schema_file, raw in (
        ("instance.json", seal_instance(RING, instance)),
        ("subscription.json", seal_subscription(RING, create_subscription(SUBSCRIBE))),
    ):
        assert_valid(schema_file, raw)
        assert set(orjson.loads(raw)) == set(validator(schema_file).schema["properties"])


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"{not json", "config.instances record: JSON is malformed"),
        (b'{"id": "i1"}', "Object missing required field `provider`"),
        (
            b'{"id": "i1", "provider": "standard", "name": "n", "enabled": "yes",'
            b' "created": "", "modified": ""}',
            "Expected `bool`, got `str` - at `$.enabled`",
        ),
        (
            b'{"id": "i1", "provider": "oktopost", "name": "n", "enabled": true,'
            b' "created": "", "modified": "", "oktopost_webhooks": {"wh1": {"event": "postSent"}}}',
            "missing required field `secret` - at `$.oktopost_webhooks[...]`",
        ),
    ],
)
def test_an_instance_record_that_does_not_decode_says_why(raw: bytes, said: str) -> None:
    with pytest.raises(UnreadableConfigError, match=re.escape(said)) as caught:
        ConfigCodec(RING).instance_from_json(raw)
    assert isinstance(caught.value, ValueError)  # what views skip and log
    with pytest.raises(UnreadableConfigError, match=re.escape(said)):
        needs_resealing(RING, "config.instances", raw)


def test_a_subscription_record_of_the_wrong_shape_says_why() -> None:
    raw = b'{"id": "s1", "name": "n", "url": "u", "event_types": "*", "enabled": true,'
    raw += b' "secret": "whsec_x", "created": "", "modified": ""}'
    with pytest.raises(UnreadableConfigError, match=re.escape("config.subscriptions record:")):
        ConfigCodec(RING).subscription_from_json(raw)


def test_a_meta_verify_token_is_sealed_and_never_shown() -> None:
    instance, generated = create_instance(
        {"provider": "meta", "id": "m1", "signing_secret": "app-secret", "verify_token": "vt-1"}
    )
    assert generated is None  # the app secret is Meta's: nothing generated, nothing shown
    raw = seal_instance(RING, instance)
    assert b"vt-1" not in raw
    assert b"app-secret" not in raw
    assert open_instance(RING, raw).verify_token == "vt-1"
    shown = instance.public("http://127.0.0.1:8080")
    assert "verify_token" not in shown
    assert "signing_secret" not in shown
    assert shown["has_verify_token"] is True
    assert_valid("instance.json", raw)
