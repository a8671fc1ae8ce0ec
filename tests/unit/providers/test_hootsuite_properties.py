"""Hootsuite batches on any input: every element an event, a rejection or an ignored ping."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events.cloudevent import Lineage, event_id
from pipeline.providers.base import Normalized, PayloadError
from pipeline.providers.hootsuite import MESSAGES, Hootsuite
from tests.support.documents import (
    broken_hootsuite_elements,
    hootsuite_elements,
    mixed_hootsuite_batches,
)
from tests.support.malformed import corrupt_bytes, deep, encode, json_values
from tests.support.totality import PROPERTY, check_normalized

HOOTSUITE = Hootsuite()
LINEAGE = Lineage("hootsuite", "hs1", "2025-11-20T12:00:01.000Z")


def normalized(body: bytes) -> Normalized | None:
    """What the worker makes of `body`; None when the ingress refuses it (400, kept)."""
    try:
        payload = HOOTSUITE.parse(body)
    except PayloadError:
        return None
    HOOTSUITE.has_events(payload)
    return HOOTSUITE.normalize(payload, {}, LINEAGE)


def accounted(result: Normalized, elements: int) -> None:
    assert len(result.events) + len(result.rejected) + result.ignored == elements


@PROPERTY
@given(mixed_hootsuite_batches())
def test_the_good_elements_of_a_mixed_batch_come_out(case: tuple[list[Any], list[Any]]) -> None:
    batch, good = case
    body = encode(batch)
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        assert normalized(body) is None  # a NaN or a too-deep element: the body is not JSON
        return
    result = normalized(body)
    assert result is not None
    valid = {event["id"] for event in check_normalized(result)}
    for element in good:
        assert event_id("hootsuite", "hs1", element["seq_no"]) in valid, element
    accounted(result, len(batch))


@PROPERTY
@given(broken_hootsuite_elements())
def test_a_broken_element_alone_is_an_event_or_a_rejection(element: Any) -> None:
    result = normalized(encode([element]))
    if result is not None:
        check_normalized(result)
        accounted(result, 1)


@PROPERTY
@given(st.lists(hootsuite_elements(), min_size=1, max_size=3).map(encode).flatmap(corrupt_bytes))
def test_corrupt_bytes_are_refused_or_normalized(body: bytes) -> None:
    result = normalized(body)
    if result is not None:
        check_normalized(result)


@PROPERTY
@given(json_values)
def test_normalize_and_has_events_take_any_json_value(value: Any) -> None:
    try:
        payload = orjson.loads(encode(value))
    except orjson.JSONDecodeError:
        return  # not JSON any more: only `parse` sees it
    HOOTSUITE.has_events(payload)
    check_normalized(HOOTSUITE.normalize(payload, {}, LINEAGE))


@pytest.mark.parametrize(
    ("seq_no", "reason"),
    [({"n": 1}, "invalid_seq_no"), ([1], "invalid_seq_no"), (1.5, "invalid_seq_no"), ("", None)],
)
def test_a_seq_no_that_is_not_a_string_or_integer_is_rejected(seq_no: Any, reason: str) -> None:
    element = {"seq_no": seq_no, "type": MESSAGES, "data": {"state": "SENT", "message": {"id": 1}}}
    result = HOOTSUITE.normalize([element], {}, LINEAGE)
    assert [r.reason for r in result.rejected] == [reason or "missing_seq_no"]


def test_a_too_deep_element_is_rejected_alone() -> None:
    good = {"seq_no": "1", "type": MESSAGES, "data": {"state": "SENT", "message": {"id": 1}}}
    body = b"[" + encode(good) + b"," + encode(deep(300, objects=True)) + b"]"
    result = normalized(body)
    assert result is not None
    assert [e["subject"] for e in result.events] == ["posts/1"]
    [rejected] = result.rejected
    assert (rejected.reason, rejected.element) == ("nested_too_deep", None)
