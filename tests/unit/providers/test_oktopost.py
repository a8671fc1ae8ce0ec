from __future__ import annotations

import orjson
import pytest

from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import PayloadError, SignatureError
from pipeline.providers.oktopost import EVENT_MAP, Oktopost
from pipeline.settings import REPO_ROOT
from tests.support.payloads import OKTOPOST_DATA, hex_hmac, oktopost_body

OKTOPOST = Oktopost()
LINEAGE = Lineage("oktopost", "inst1", "2025-11-20T12:30:01.000Z")
CATALOG = Catalog(REPO_ROOT / "topics")


def test_all_19_documented_events_are_mapped() -> None:
    assert len(EVENT_MAP) == 19
    assert set(EVENT_MAP) == set(OKTOPOST_DATA)


@pytest.mark.parametrize("event", sorted(OKTOPOST_DATA))
def test_every_event_normalizes_to_a_schema_valid_cloudevent(event: str) -> None:
    body = oktopost_body(event)
    result = OKTOPOST.normalize(OKTOPOST.parse(body), {}, LINEAGE)
    assert result.rejected == []
    [normalized] = result.events
    expected_type = EVENT_MAP[event][0]
    assert normalized["type"] == expected_type
    assert normalized["providerevent"] == event
    assert normalized["source"] == "/instances/inst1"
    assert CATALOG.violation(normalized) is None
    assert normalized["data"]["raw"] == orjson.loads(body)


def test_post_sent_fields() -> None:
    [event] = OKTOPOST.normalize(orjson.loads(oktopost_body("postSent")), {}, LINEAGE).events
    assert event["subject"] == "posts/0PS1"
    assert event["time"] == "2025-11-20T12:30:00.000Z"  # data.sentAt, UTC
    assert event["data"]["post_id"] == "0PS1"
    assert event["data"]["campaign_id"] == "0CM1"
    assert event["data"]["sent_at"] == "2025-11-20T12:30:00.000Z"


def test_time_falls_back_to_the_envelope_timestamp() -> None:
    body = oktopost_body("postDeleted", timestamp=1763640000)
    [event] = OKTOPOST.normalize(orjson.loads(body), {}, LINEAGE).events
    assert event["time"] == "2025-11-20T12:00:00.000Z"


def test_a_resend_has_the_same_id_and_another_occurrence_does_not() -> None:
    first = OKTOPOST.normalize(orjson.loads(oktopost_body("postSent")), {}, LINEAGE).events[0]
    again = OKTOPOST.normalize(orjson.loads(oktopost_body("postSent")), {}, LINEAGE).events[0]
    later = OKTOPOST.normalize(
        orjson.loads(oktopost_body("postSent", timestamp=1763640999)), {}, LINEAGE
    ).events[0]
    assert first["id"] == again["id"]
    assert later["id"] != first["id"]


def test_raw_is_left_out_when_the_instance_says_so() -> None:
    lineage = Lineage("oktopost", "inst1", "2025-11-20T12:30:01.000Z", include_raw=False)
    [event] = OKTOPOST.normalize(orjson.loads(oktopost_body("postSent")), {}, lineage).events
    assert "raw" not in event["data"]


@pytest.mark.parametrize(
    ("event", "data", "reason"),
    [
        ("postExploded", {"postId": "1"}, "unknown_event_type"),
        ("postSent", {"network": "LinkedIn"}, "missing_object_id"),
    ],
)
def test_what_cannot_be_normalized_is_rejected_with_a_reason(
    event: str, data: dict[str, str], reason: str
) -> None:
    payload = {"event": event, "timestamp": 1, "webhookId": "w", "data": data}
    result = OKTOPOST.normalize(payload, {}, LINEAGE)
    assert result.events == []
    assert [r.reason for r in result.rejected] == [reason]


@pytest.mark.parametrize("digest", ["sha256", "sha1"])
def test_signature_over_the_raw_body(digest: str) -> None:
    body = b'{"event": "postSent", "timestamp": 1, "webhookId": "w", "data": {}}'
    signature = hex_hmac("s3cret", body, digest)
    for header in (signature, f"{digest}={signature}"):
        assert OKTOPOST.verify("s3cret", {"x-oktopost-signature": header}, body, 0) is None
        with pytest.raises(SignatureError, match="does not match"):  # the same, another body
            OKTOPOST.verify("s3cret", {"x-oktopost-signature": header}, body + b" ", 0)


def test_signature_over_the_compact_json_the_docs_compute() -> None:
    body = b'{ "event": "postSent",\n  "timestamp": 1, "webhookId": "w", "data": {} }'
    compact = b'{"event":"postSent","timestamp":1,"webhookId":"w","data":{}}'
    signature = hex_hmac("s3cret", compact)
    assert OKTOPOST.verify("s3cret", {"x-oktopost-signature": signature}, body, 0) is None
    assert OKTOPOST.verify("s3cret", {"x-oktopost-signature": signature}, compact, 0) is None
    other = b'{"event": "postSent", "timestamp": 2, "webhookId": "w", "data": {}}'
    with pytest.raises(SignatureError, match="does not match"):  # another payload, compacted
        OKTOPOST.verify("s3cret", {"x-oktopost-signature": signature}, other, 0)


@pytest.mark.parametrize(
    "headers", [{}, {"x-oktopost-signature": "zz"}, {"x-oktopost-signature": "0" * 64}]
)
def test_a_bad_or_missing_signature_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        OKTOPOST.verify("s3cret", headers, oktopost_body("postSent"), 0)


def test_the_wrong_secret_is_refused() -> None:
    body = oktopost_body("postSent")
    with pytest.raises(SignatureError, match="does not match"):
        OKTOPOST.verify("s3cret", {"x-oktopost-signature": hex_hmac("other", body)}, body, 0)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_unparseable_bodies(body: bytes) -> None:
    with pytest.raises(PayloadError):
        OKTOPOST.parse(body)
