"""Oktopost parse/verify/normalize on any input: events or rejections, never an exception."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import Normalized, PayloadError, SignatureError
from pipeline.providers.oktopost import Oktopost
from tests.support.documents import broken_oktopost_documents, oktopost_documents
from tests.support.malformed import Raw, corrupt_bytes, deep, encode, header_values, json_values
from tests.support.payloads import hex_hmac
from tests.support.totality import PROPERTY, check_normalized

OKTOPOST = Oktopost()
LINEAGE = Lineage("oktopost", "inst1", "2025-11-20T12:30:01.000Z")


def normalized(body: bytes) -> Normalized | None:
    """What the worker makes of `body`; None when the ingress refuses it (400, kept)."""
    try:
        payload = OKTOPOST.parse(body)
    except PayloadError:
        return None
    return OKTOPOST.normalize(payload, {}, LINEAGE)


@PROPERTY
@given(oktopost_documents())
def test_documented_bodies_become_one_schema_valid_event(document: dict[str, Any]) -> None:
    result = normalized(encode(document))
    assert result is not None
    assert result.rejected == []
    assert len(check_normalized(result)) == 1


@PROPERTY
@given(broken_oktopost_documents())
def test_broken_bodies_are_one_event_or_one_rejection(document: Any) -> None:
    result = normalized(encode(document))
    if result is not None:
        check_normalized(result)
        assert len(result.events) + len(result.rejected) == 1


@PROPERTY
@given(oktopost_documents().flatmap(lambda document: corrupt_bytes(encode(document))))
def test_corrupt_bytes_are_refused_or_normalized(body: bytes) -> None:
    result = normalized(body)
    if result is not None:
        check_normalized(result)


@PROPERTY
@given(json_values)
def test_normalize_takes_any_json_value(value: Any) -> None:
    try:
        payload = orjson.loads(encode(value))
    except orjson.JSONDecodeError:
        return  # not JSON any more: only `parse` sees it
    check_normalized(OKTOPOST.normalize(payload, {}, LINEAGE))


@PROPERTY
@given(st.one_of(broken_oktopost_documents().map(encode), st.binary(max_size=100)), st.booleans())
def test_verify_refuses_or_accepts_and_never_raises(body: bytes, sha1: bool) -> None:
    signature = hex_hmac("s3cret", body, "sha1" if sha1 else "sha256")
    OKTOPOST.verify("s3cret", {"x-oktopost-signature": signature}, body, 0)
    with pytest.raises(SignatureError):
        OKTOPOST.verify("other", {"x-oktopost-signature": signature}, body, 0)


@PROPERTY
@given(header_values, st.binary(max_size=50))
def test_verify_refuses_any_forged_signature_without_raising(signature: str, body: bytes) -> None:
    with pytest.raises(SignatureError):
        OKTOPOST.verify("s3cret", {"x-oktopost-signature": signature}, body, 0)


@pytest.mark.parametrize(
    "event",
    [{"a": 1}, ["postSent"], deep(300), 1e308, None],
    ids=["object", "array", "deep", "number", "null"],
)
def test_an_event_of_the_wrong_type_is_rejected(event: Any) -> None:
    body = encode({"event": event, "timestamp": 1, "webhookId": "w", "data": {"postId": "P"}})
    result = normalized(body)
    assert result is not None
    assert result.events == []
    [rejected] = result.rejected
    assert rejected.reason in {"unknown_event_type", "nested_too_deep"}


@pytest.mark.parametrize("timestamp", [1e308, 10**40, -(10**40), -1e20, "9" * 5000, Raw("NaN")])
def test_an_out_of_range_timestamp_falls_back_to_the_receipt_time(timestamp: Any) -> None:
    data = {"postId": "P"}
    result = normalized(encode({"event": "postDeleted", "timestamp": timestamp, "data": data}))
    if result is None:  # NaN is not JSON: refused by the ingress
        return
    [event] = result.events
    assert event["time"] == LINEAGE.received_at


@pytest.mark.parametrize("object_id", [{"id": 1}, [1], True, 1.5])
def test_an_object_id_that_is_not_a_string_or_integer_is_rejected(object_id: Any) -> None:
    payload = {"event": "postSent", "timestamp": 1, "webhookId": "w", "data": {"postId": object_id}}
    result = OKTOPOST.normalize(payload, {}, LINEAGE)
    assert [r.reason for r in result.rejected] == ["invalid_object_id"]
