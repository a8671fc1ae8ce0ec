"""X: the CRC answer, x-twitter-webhooks-signature, and each Account Activity kind."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson
import pytest

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import (
    HandshakeParameterError,
    HandshakeRefusedError,
    InstanceKeys,
    SignatureError,
)
from pipeline.providers.x import X
from pipeline.simulators.social import X_USER, sample
from tests.support.totality import check_normalized

X_PROVIDER = X()
LINEAGE = Lineage("x", "inst1", "2025-11-20T12:30:01.000Z")


def _b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def test_the_crc_is_answered_with_the_base64_hmac_of_the_token() -> None:
    answer = X_PROVIDER.handshake(InstanceKeys("i", "consumer-secret"), {"crc_token": "tok"})
    assert answer.content_type == "application/json"
    expected = "sha256=" + _b64("consumer-secret", b"tok")
    assert orjson.loads(answer.body) == {"response_token": expected}


def test_a_crc_without_a_token_or_a_secret_is_not_answered() -> None:
    with pytest.raises(HandshakeParameterError):
        X_PROVIDER.handshake(InstanceKeys("i", "s"), {})
    with pytest.raises(HandshakeRefusedError):
        X_PROVIDER.handshake(InstanceKeys("i", None), {"crc_token": "tok"})


def test_the_signature_is_the_base64_hmac_of_the_raw_body() -> None:
    body = sample("x", "mention")
    good = {"x-twitter-webhooks-signature": "sha256=" + _b64("cs", body)}
    X_PROVIDER.verify("cs", good, body, 0)
    for headers in (
        {"x-twitter-webhooks-signature": "sha256=" + _b64("other", body)},
        {"x-twitter-webhooks-signature": "sha256=" + hmac.new(b"cs", body, "sha256").hexdigest()},
        {},
    ):
        with pytest.raises(SignatureError):
            X_PROVIDER.verify("cs", headers, body, 0)


def _event(name: str) -> dict[str, Any]:
    result = X_PROVIDER.normalize(orjson.loads(sample("x", name)), {}, LINEAGE)
    [found] = check_normalized(result)
    assert result.rejected == []
    return found


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("mention", "mentions/1866000000000000001"),
        ("reply", "comments/1866000000000000002"),
        ("own_tweet", "posts/1866000000000000003"),
        ("favorite", "reactions/a7ba59eab0bfcba386f7acedac279542"),
        ("follow", "follows/4040-" + X_USER),
        ("direct_message", "messages/954491830116155396"),
        ("tweet_delete", "posts/1866000000000000003"),
    ],
)
def test_each_kind_names_its_subject_and_its_time(name: str, subject: str) -> None:
    found = _event(name)
    assert found["subject"] == subject
    assert found["time"] == "2024-12-06T13:00:00.000Z"
    assert found["data"]["account_id"] == X_USER


def test_a_reply_carries_its_text_author_and_parent() -> None:
    data = _event("reply")["data"]
    assert (data["text"], data["author_id"], data["author_name"]) == (
        "@brand love it",
        "4040",
        "jane",
    )
    assert data["parent_id"] == "1865000000000000000"


def test_a_direct_message_the_user_sent_is_message_sent() -> None:
    body = orjson.loads(sample("x", "direct_message"))
    body["direct_message_events"][0]["message_create"]["sender_id"] = X_USER
    [found] = X_PROVIDER.normalize(body, {}, LINEAGE).events
    assert found["type"] == "message.sent"


def test_an_unfollow_is_follow_deleted_on_the_same_subject_with_another_id() -> None:
    follow = _event("follow")
    body = orjson.loads(sample("x", "follow"))
    body["follow_events"][0]["type"] = "unfollow"
    [unfollow] = X_PROVIDER.normalize(body, {}, LINEAGE).events
    assert (unfollow["type"], unfollow["subject"]) == ("follow.deleted", follow["subject"])
    assert unfollow["id"] != follow["id"]


def test_a_resent_body_gets_the_same_ids() -> None:
    body = sample("x", "mention")
    first = X_PROVIDER.normalize(orjson.loads(body), {}, LINEAGE).events
    again = X_PROVIDER.normalize(orjson.loads(body), {}, LINEAGE).events
    assert [e["id"] for e in first] == [e["id"] for e in again]


def test_an_unknown_kind_is_kept_as_the_catch_all() -> None:
    body = {
        "for_user_id": X_USER,
        "block_events": [
            {
                "type": "block",
                "created_timestamp": "1733490000000",
                "source": {"id": X_USER},
                "target": {"id": "4040"},
            }
        ],
        "users": {"4040": {"id": "4040"}},
    }
    [found] = X_PROVIDER.normalize(body, {}, LINEAGE).events
    assert (found["type"], found["subject"]) == ("platform.event", "platform_events/" + X_USER)
    assert found["data"]["kind"] == "block_events"
    assert found["data"]["raw"]["target"] == {"id": "4040"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"for_user_id": X_USER}, "empty_batch"),
        ({"for_user_id": X_USER, "tweet_create_events": {}}, "malformed_element"),
        ({"for_user_id": X_USER, "tweet_create_events": [1]}, "malformed_element"),
        ({"for_user_id": X_USER, "tweet_create_events": [{"text": "x"}]}, "missing_object_id"),
    ],
)
def test_what_cannot_be_normalized_is_rejected_with_a_reason(body: Any, reason: str) -> None:
    result = X_PROVIDER.normalize(body, {}, LINEAGE)
    assert [r.reason for r in result.rejected] == [reason]
