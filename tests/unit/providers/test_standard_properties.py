"""Standard Webhooks bodies and headers on any input: events or rejections, never an exception."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events.cloudevent import Lineage
from pipeline.http.standard_webhooks import generate_secret
from pipeline.providers.base import Normalized, PayloadError, SignatureError
from pipeline.providers.standard import Standard
from tests.support.documents import broken_standard_documents, standard_documents
from tests.support.malformed import corrupt_bytes, encode, header_text, header_values, json_values
from tests.support.payloads import standard_request
from tests.support.totality import PROPERTY, check_normalized

STANDARD = Standard()
SECRET = generate_secret()
LINEAGE = Lineage("standard", "std1", "2025-11-20T08:00:01.000Z")
HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1763625601"}


def normalized(body: bytes, headers: dict[str, str] | None = None) -> Normalized | None:
    """What the worker makes of `body`; None when the ingress refuses it (400, kept)."""
    try:
        payload = STANDARD.parse(body)
    except PayloadError:
        return None
    return STANDARD.normalize(payload, HEADERS if headers is None else headers, LINEAGE)


@PROPERTY
@given(standard_documents())
def test_documented_bodies_become_one_schema_valid_event(document: dict[str, Any]) -> None:
    result = normalized(encode(document))
    assert result is not None
    assert result.rejected == []
    assert len(check_normalized(result)) == 1


@PROPERTY
@given(broken_standard_documents(), st.dictionaries(st.sampled_from(sorted(HEADERS)), header_text))
def test_broken_bodies_and_headers_are_one_event_or_one_rejection(
    document: Any, headers: dict[str, str]
) -> None:
    result = normalized(encode(document), headers)
    if result is not None:
        check_normalized(result)
        assert len(result.events) + len(result.rejected) == 1


@PROPERTY
@given(standard_documents().map(encode).flatmap(corrupt_bytes))
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
    check_normalized(STANDARD.normalize(payload, HEADERS, LINEAGE))


@PROPERTY
@given(
    st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]), header_values
    ),
    st.binary(max_size=50),
)
def test_verify_refuses_any_forged_headers_without_raising(
    headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(SignatureError):
        STANDARD.verify(SECRET, headers, body, time.time())


@pytest.mark.parametrize("msg_id", ["msg_\udcff", "msg_é"])
def test_any_webhook_id_verifies_or_is_refused(msg_id: str) -> None:
    body, headers = standard_request(SECRET, "msg_1", {"type": "lead.created", "data": {}})
    headers["webhook-id"] = msg_id
    with pytest.raises(SignatureError):
        STANDARD.verify(SECRET, headers, body, time.time())
