"""Hootsuite message snapshots: any value that decodes as a snapshot is one event or one
rejection, never an exception (what does not decode never reaches the normalizer)."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import nests_deeper
from pipeline.providers.hootsuite_polls import normalize_message_snapshot
from pipeline.providers.snapshot import PollSnapshot
from tests.support.documents import message_snapshots
from tests.support.malformed import broken, broken_values, encode
from tests.support.totality import PROPERTY, check_normalized

LINEAGE = Lineage("hootsuite", "hs1", "2025-11-20T12:00:00.000Z")


def snapshot_of(value: Any) -> PollSnapshot:
    """`value` as `normalize_poll` hands it over; values of another shape are not generated."""
    try:
        snapshot = msgspec.convert(value, PollSnapshot)
    except msgspec.ValidationError:
        assume(False)
        raise
    assume(not nests_deeper(snapshot.item))  # normalize_poll refuses those before
    return snapshot


def decoded(value: Any) -> Any:
    """`value` as orjson reads it back (None when it is no longer JSON)."""
    try:
        return orjson.loads(encode(value))
    except orjson.JSONDecodeError:
        return None


@st.composite
def broken_snapshots(draw: st.DrawFn) -> Any:
    """Snapshots with a broken item: a broken envelope is normalize_poll's (its property tests)."""
    snapshot = draw(message_snapshots())
    if isinstance(snapshot["item"], dict):
        item = {**snapshot["item"], "id": draw(broken_values)}
        snapshot["item"] = draw(broken(item, ("id", "state", "text", "scheduledSendTime")))
    return decoded(snapshot)


@PROPERTY
@given(message_snapshots())
def test_snapshots_become_one_schema_valid_event(snapshot: dict[str, Any]) -> None:
    result = normalize_message_snapshot(snapshot_of(snapshot), LINEAGE)
    assert result.rejected == []
    assert len(check_normalized(result)) == 1


@PROPERTY
@given(broken_snapshots())
def test_broken_snapshots_are_one_event_or_one_rejection(snapshot: Any) -> None:
    result = normalize_message_snapshot(snapshot_of(snapshot), LINEAGE)
    check_normalized(result)
    assert len(result.events) + len(result.rejected) == 1
