"""The `pollers.state` view: its per-instance index follows writes, stale replays and tombstones."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from pipeline.pollers.state import (
    PollerState,
    PollerStateView,
    decode_state,
    encode_state,
    state_key,
    state_record,
)

SEEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def record(instance_id: str, item_id: str, state: str) -> PollerState:
    return state_record(instance_id, item_id, state, None, SEEN)


def test_the_index_follows_writes_tombstones_and_ignores_stale_replays() -> None:
    view = PollerStateView("127.0.0.1:1", "pollers.state")
    view.apply(state_key("a", "1"), record("a", "1", "SCHEDULED"), 5)
    view.apply(state_key("a", "2"), record("a", "2", "SENT"), 6)
    view.apply(state_key("b", "1"), record("b", "1", "SENT"), 7)
    view.apply(state_key("a", "1"), record("a", "1", "SENT"), 8)
    view.apply(state_key("a", "1"), record("a", "1", "SCHEDULED"), 5)  # the consumer catching up

    assert {k: v.state for k, v in view.tracked("a").items()} == {"1": "SENT", "2": "SENT"}

    view.apply(state_key("b", "1"), None, 9)
    view.apply(state_key("b", "1"), record("b", "1", "SENT"), 7)  # older than the tombstone

    assert view.tracked("b") == {}
    assert view.instance_ids() == {"a"}


def test_a_record_round_trips_and_old_records_without_optional_fields_decode() -> None:
    written = record("a", "1", "SENT")
    assert decode_state(encode_state(written)) == written
    old = (
        b'{"instance_id": "a", "item_id": "1", "state": "SENT", "seen_at": "2026-03-02T09:00:00Z"}'
    )
    assert decode_state(old).scheduled_send_time is None


def test_records_that_are_not_poller_state_are_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="Expected `object`"):
        decode_state(b'["not", "a", "record"]')
    with pytest.raises(msgspec.ValidationError, match="missing required field `state`"):
        decode_state(b'{"instance_id": "a", "item_id": "1", "seen_at": "x"}')
    with pytest.raises(msgspec.DecodeError):
        decode_state(b"{broken")
