"""Hootsuite message snapshots on any input: one event or one rejection, never an exception."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events.cloudevent import Lineage
from pipeline.providers.hootsuite_polls import normalize_message_snapshot
from tests.support.documents import message_snapshots
from tests.support.malformed import broken, broken_values, encode, json_values
from tests.support.totality import PROPERTY, check_normalized

LINEAGE = Lineage("hootsuite", "hs1", "2025-11-20T12:00:00.000Z")
FIELDS = ("item_id", "item", "deleted", "polled_at")


def decoded(value: Any) -> Any:
    """`value` as orjson reads it back (None when it is no longer JSON)."""
    try:
        return orjson.loads(encode(value))
    except orjson.JSONDecodeError:
        return None


@st.composite
def broken_snapshots(draw: st.DrawFn) -> Any:
    snapshot = draw(message_snapshots())
    if isinstance(snapshot["item"], dict) and draw(st.booleans()):
        item = {**snapshot["item"], "id": draw(broken_values)}
        snapshot["item"] = draw(broken(item, ("id", "state", "text", "scheduledSendTime")))
    return decoded(draw(broken(snapshot, FIELDS)))


@PROPERTY
@given(message_snapshots())
def test_snapshots_become_one_schema_valid_event(snapshot: dict[str, Any]) -> None:
    result = normalize_message_snapshot(snapshot, LINEAGE)
    assert result.rejected == []
    assert len(check_normalized(result)) == 1


@PROPERTY
@given(broken_snapshots())
def test_broken_snapshots_are_one_event_or_one_rejection(snapshot: Any) -> None:
    result = normalize_message_snapshot(snapshot, LINEAGE)
    check_normalized(result)
    assert len(result.events) + len(result.rejected) == 1


@PROPERTY
@given(json_values.map(decoded))
def test_any_json_value_is_an_event_or_a_rejection(value: Any) -> None:
    result = normalize_message_snapshot(value, LINEAGE)
    check_normalized(result)
    assert len(result.events) + len(result.rejected) == 1
