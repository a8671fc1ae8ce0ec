"""LinkedIn: the challengeCode validation, X-LI-Signature (both readings), each social action."""

from __future__ import annotations

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
from pipeline.providers.linkedin import LinkedIn
from pipeline.simulators.social import LINKEDIN, sample
from tests.support.totality import check_normalized

PROVIDER = LinkedIn()
LINEAGE = Lineage("linkedin", "inst1", "2025-11-20T12:30:01.000Z")


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_the_challenge_code_is_answered_with_its_hex_hmac() -> None:
    answer = PROVIDER.handshake(InstanceKeys("i", "client-secret"), {"challengeCode": "890e4"})
    assert answer.content_type == "application/json"
    assert orjson.loads(answer.body) == {
        "challengeCode": "890e4",
        "challengeResponse": _hex("client-secret", b"890e4"),
    }


def test_a_validation_without_a_code_or_a_secret_is_not_answered() -> None:
    with pytest.raises(HandshakeParameterError):
        PROVIDER.handshake(InstanceKeys("i", "s"), {"applicationId": "1"})
    with pytest.raises(HandshakeRefusedError):
        PROVIDER.handshake(InstanceKeys("i", None), {"challengeCode": "c"})


@pytest.mark.parametrize("prefix", ["", "hmacsha256="])
def test_the_signature_is_accepted_with_or_without_the_documented_prefix(prefix: str) -> None:
    body = sample("linkedin", "comment")
    PROVIDER.verify("cs", {"x-li-signature": prefix + _hex("cs", body)}, body, 0)
    with pytest.raises(SignatureError):
        PROVIDER.verify("cs", {"x-li-signature": prefix + _hex("other", body)}, body, 0)
    with pytest.raises(SignatureError):
        PROVIDER.verify("cs", {}, body, 0)


def test_a_comment_is_comment_created_on_the_comment_urn() -> None:
    result = PROVIDER.normalize(orjson.loads(sample("linkedin", "comment")), {}, LINEAGE)
    [found] = check_normalized(result)
    assert found["type"] == "comment.created"
    assert found["subject"] == "comments/urn:li:comment:(urn:li:activity:789,111)"
    assert found["time"] == "2024-12-06T13:00:00.000Z"
    data = found["data"]
    assert (data["account_id"], data["parent_id"]) == (
        "urn:li:organization:123",
        "urn:li:share:456",
    )


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("ADMIN_COMMENT", "comment.created"),
        ("COMMENT_EDIT", "comment.updated"),
        ("COMMENT_DELETE", "comment.deleted"),
        ("MENTION", "mention.created"),
        ("SHARE_EDIT", "platform.event"),
    ],
)
def test_each_action_maps_to_its_type(action: str, expected: str) -> None:
    body = {**LINKEDIN["comment"]}
    body["notifications"] = [{**body["notifications"][0], "action": action}]
    [found] = check_normalized(PROVIDER.normalize(body, {}, LINEAGE))
    assert found["type"] == expected
    if expected == "platform.event":
        assert (found["subject"], found["data"]["kind"]) == ("platform_events/98765", action)


def test_the_notification_id_is_the_identity_across_retries() -> None:
    first = PROVIDER.normalize(orjson.loads(sample("linkedin", "comment")), {}, LINEAGE).events
    body = orjson.loads(sample("linkedin", "comment"))
    body["notifications"].append({**body["notifications"][0], "notificationId": 98799})
    again = PROVIDER.normalize(body, {}, LINEAGE).events
    assert again[0]["id"] == first[0]["id"]
    assert again[1]["id"] != first[0]["id"]  # another notification of the same comment


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS"}, "unparseable_body"),
        ({"notifications": []}, "empty_batch"),
        ({"notifications": ["x"]}, "malformed_element"),
        ({"notifications": [{"action": "COMMENT"}]}, "missing_object_id"),
    ],
)
def test_what_cannot_be_normalized_is_rejected_with_a_reason(body: Any, reason: str) -> None:
    result = PROVIDER.normalize(body, {}, LINEAGE)
    assert [r.reason for r in result.rejected] == [reason]
