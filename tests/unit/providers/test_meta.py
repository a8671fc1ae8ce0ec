"""Meta: the verification GET, X-Hub-Signature-256, and each documented change or message."""

from __future__ import annotations

import copy

import orjson
import pytest

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import (
    HandshakeParameterError,
    HandshakeRefusedError,
    InstanceKeys,
    SignatureError,
)
from pipeline.providers.meta import Meta
from pipeline.simulators.social import META, sample
from tests.support.payloads import hex_hmac
from tests.support.totality import check_normalized

META_PROVIDER = Meta()
LINEAGE = Lineage("meta", "inst1", "2025-11-20T12:30:01.000Z")
KEYS = InstanceKeys("inst1", "app-secret", verify_token="my-token")


def test_the_verification_get_echoes_the_challenge_for_the_right_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "my-token", "hub.challenge": "1158201444"}
    answer = META_PROVIDER.handshake(KEYS, query)
    assert (answer.body, answer.content_type) == (b"1158201444", "text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "my-token", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "my-token\udcff", "hub.challenge": "1"},
    ],
)
def test_a_wrong_token_or_mode_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(HandshakeRefusedError):
        META_PROVIDER.handshake(KEYS, query)


def test_an_instance_without_a_verify_token_refuses_every_verification() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    with pytest.raises(HandshakeRefusedError):
        META_PROVIDER.handshake(InstanceKeys("i", "s"), query)


def test_a_verification_without_a_challenge_is_a_missing_parameter() -> None:
    with pytest.raises(HandshakeParameterError):
        META_PROVIDER.handshake(KEYS, {"hub.mode": "subscribe", "hub.verify_token": "my-token"})


def test_the_signature_is_checked_over_the_raw_bytes() -> None:
    body = b'{"object":"page","entry":[],"message":"caf\\u00e9"}'
    good = {"x-hub-signature-256": "sha256=" + hex_hmac("app-secret", body)}
    META_PROVIDER.verify("app-secret", good, body, 0)
    for headers in (
        {"x-hub-signature-256": "sha256=" + hex_hmac("other", body)},
        {"x-hub-signature-256": "sha1=" + hex_hmac("app-secret", body, "sha1")},
        {},
    ):
        with pytest.raises(SignatureError):
            META_PROVIDER.verify("app-secret", headers, body, 0)
    with pytest.raises(SignatureError):  # never an empty key: anyone could sign with it
        META_PROVIDER.verify(None, {"x-hub-signature-256": "sha256=" + hex_hmac("", body)}, body, 0)


def _events(name: str) -> list[dict[str, object]]:
    result = META_PROVIDER.normalize(orjson.loads(sample("meta", name)), {}, LINEAGE)
    assert result.rejected == []
    assert len(check_normalized(result)) == len(result.events)
    return result.events


def test_a_page_comment_is_comment_created_on_the_comment() -> None:
    [event] = _events("page_comment")
    assert (event["type"], event["subject"]) == ("comment.created", "comments/555_777")
    assert event["providerevent"] == "page:feed:comment:add"
    assert event["time"] == "2024-12-06T13:00:00.000Z"
    data = event["data"]
    assert isinstance(data, dict)
    assert data["platform"] == "facebook"
    assert (data["account_id"], data["text"], data["author_name"]) == (
        "1000000001",
        "Nice!",
        "Jane",
    )
    assert data["parent_id"] == "1000000001_555"


def test_an_instagram_comment_is_comment_created_too() -> None:
    [event] = _events("instagram_comment")
    assert (event["type"], event["subject"]) == ("comment.created", "comments/17865799348089039")
    data = event["data"]
    assert isinstance(data, dict)
    assert (data["platform"], data["author_name"], data["parent_id"]) == (
        "instagram",
        "jane",
        "123123123",
    )


def test_a_message_is_message_received_identified_by_its_mid() -> None:
    [event] = _events("message")
    assert (event["type"], event["subject"]) == ("message.received", "messages/m_abc")
    assert event["time"] == "2024-12-06T13:00:00.000Z"  # milliseconds read as such
    data = event["data"]
    assert isinstance(data, dict)
    assert (data["text"], data["author_id"], data["recipient_id"]) == (
        "hello",
        "6789",
        "1000000001",
    )


def _change(item: str, verb: str, **value: object) -> dict[str, object]:
    body = copy.deepcopy(META["page_comment"])
    body["entry"][0]["changes"][0]["value"] = {"item": item, "verb": verb, **value}
    return body


@pytest.mark.parametrize(
    ("item", "verb", "expected"),
    [
        ("comment", "edited", ("comment.updated", "comments/c1")),
        ("comment", "remove", ("comment.deleted", "comments/c1")),
        ("status", "add", ("post.published", "posts/p1")),
        ("photo", "edited", ("post.updated", "posts/p1")),
        ("post", "remove", ("post.deleted", "posts/p1")),
        ("reaction", "add", ("reaction.created", "reactions/c1_u1")),
        ("reaction", "remove", ("reaction.deleted", "reactions/c1_u1")),
        ("share", "add", ("share.created", "shares/s1")),
        ("like", "add", ("platform.event", "platform_events/c1")),
    ],
)
def test_each_feed_change_maps_to_its_type(item: str, verb: str, expected: tuple[str, str]) -> None:
    value = {"comment_id": "c1", "post_id": "p1", "share_id": "s1", "from": {"id": "u1"}}
    result = META_PROVIDER.normalize(_change(item, verb, **value), {}, LINEAGE)
    [event] = check_normalized(result)
    assert (event["type"], event["subject"]) == expected
    if expected[0] == "platform.event":
        assert event["data"]["kind"] == f"page:feed:{item}:{verb}"
        assert event["data"]["raw"]["value"]["item"] == item  # kept whole


def test_one_post_batches_entries_and_changes_each_one_event_a_resend_the_same_ids() -> None:
    body = copy.deepcopy(META["page_comment"])
    change = body["entry"][0]["changes"][0]
    edited = copy.deepcopy(change)
    edited["value"] = {**edited["value"], "verb": "edited", "message": "Nice!!"}
    body["entry"][0]["changes"].append(edited)
    body["entry"].append(copy.deepcopy(META["message"]["entry"][0]))
    first = META_PROVIDER.normalize(body, {}, LINEAGE).events
    assert [e["type"] for e in first] == ["comment.created", "comment.updated", "message.received"]
    assert len({e["id"] for e in first}) == 3
    again = META_PROVIDER.normalize(orjson.loads(orjson.dumps(body)), {}, LINEAGE).events
    assert [e["id"] for e in again] == [e["id"] for e in first]


def test_an_unknown_field_is_kept_as_the_catch_all() -> None:
    body = {
        "object": "page",
        "entry": [
            {
                "id": "9",
                "time": 1,
                "changes": [
                    {
                        "field": "ratings",
                        "value": {"rating": 5, "review_text": "great", "reviewer_id": "r"},
                    }
                ],
            }
        ],
    }
    [event] = META_PROVIDER.normalize(body, {}, LINEAGE).events
    assert (event["type"], event["subject"]) == ("platform.event", "platform_events/9")
    assert event["data"]["kind"] == "page:ratings"
    assert event["data"]["review_text"] == "great"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"object": "page"}, "unparseable_body"),
        ({"object": "page", "entry": []}, "empty_batch"),
        ({"object": "page", "entry": [{"id": "1"}]}, "malformed_element"),
        (
            {"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed"}]}]},
            "malformed_element",
        ),
        (_change("comment", "add"), "missing_object_id"),
        (_change("comment", "add", comment_id=[1]), "invalid_object_id"),
    ],
)
def test_what_cannot_be_normalized_is_rejected_with_a_reason(
    body: dict[str, object], reason: str
) -> None:
    result = META_PROVIDER.normalize(body, {}, LINEAGE)
    assert [r.reason for r in result.rejected] == [reason]
    assert result.events == []
