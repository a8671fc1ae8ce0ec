from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec
import orjson
import pytest

from pipeline.config.subscriptions import create_subscription
from pipeline.delivery.formats import cloud_elements_body, event_type_of, render

EVENT = {
    "id": "e1",
    "source": "/instances/i1",
    "type": "post.sent",
    "subject": "posts/P1",
    "time": "2025-11-20T12:30:00.000Z",
    "provider": "oktopost",
    "instanceid": "i1",
    "data": {"post_id": "P1", "raw": {"event": "postSent", "data": {"postId": "P1"}}},
}


@pytest.mark.parametrize(
    ("normalized", "expected"),
    [
        ("post.created", "CREATED"),
        ("advocacy.story_created", "CREATED"),
        ("post.deleted", "DELETED"),
        ("post.sent", "UPDATED"),
        ("conversation.note_added", "UPDATED"),
        ("integration.installed", "UNKNOWN"),
    ],
)
def test_event_types_map_to_cloud_elements_ones(normalized: str, expected: str) -> None:
    assert event_type_of(normalized) == expected


def test_the_cloud_elements_body_holds_the_standardized_object_and_the_raw_payload() -> None:
    message = cloud_elements_body(EVENT)["message"]
    assert message["events"] == [
        {
            "objectType": "posts",
            "objectId": "P1",
            "eventType": "UPDATED",
            "elementKey": "oktopost",
            "date": "2025-11-20T12:30:00.000Z",
        }
    ]
    assert message["instanceId"] == "i1"
    assert message["raw"] == EVENT["data"]["raw"]


def test_the_cloud_elements_format_is_signed_with_the_signature_key() -> None:
    subscription = create_subscription(
        {"name": "n", "url": "https://x.test", "format": "cloud-elements", "signature_key": "k"}
    )
    body, headers = render(subscription, msgspec.Raw(orjson.dumps(EVENT)))
    expected = base64.b64encode(hmac.new(b"k", body, hashlib.sha256).digest()).decode()
    assert headers["Elements-Webhook-Signature"] == "sha256=" + expected
    assert headers["content-type"] == "application/json"
    assert "k" not in str(subscription.public().get("signature_key", ""))
    assert subscription.public()["has_signature_key"] is True


def test_the_default_format_is_the_cloudevent_unchanged() -> None:
    subscription = create_subscription({"name": "n", "url": "https://x.test"})
    assert render(subscription, msgspec.Raw(orjson.dumps(EVENT))) == (orjson.dumps(EVENT), {})
