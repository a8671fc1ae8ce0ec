"""The `pollers.state` view: its per-instance index follows writes, stale replays and tombstones."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from pipeline.pollers.state import PollerStateView, decode_state, state_key, state_record

SEEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def record(instance_id: str, item_id: str, state: str) -> dict[str, object]:
    return state_record(instance_id, item_id, state, None, SEEN)


def test_the_index_follows_writes_tombstones_and_ignores_stale_replays() -> None:
    view = PollerStateView("127.0.0.1:1", "pollers.state")
    view.apply(state_key("a", "1"), record("a", "1", "SCHEDULED"), 5)
    view.apply(state_key("a", "2"), record("a", "2", "SENT"), 6)
    view.apply(state_key("b", "1"), record("b", "1", "SENT"), 7)
    view.apply(state_key("a", "1"), record("a", "1", "SENT"), 8)
    view.apply(state_key("a", "1"), record("a", "1", "SCHEDULED"), 5)  # the consumer catching up

    assert {k: v["state"] for k, v in view.tracked("a").items()} == {"1": "SENT", "2": "SENT"}

    view.apply(state_key("b", "1"), None, 9)
    view.apply(state_key("b", "1"), record("b", "1", "SENT"), 7)  # older than the tombstone

    assert view.tracked("b") == {}
    assert view.instance_ids() == {"a"}


def test_records_that_are_not_poller_state_are_refused() -> None:
    assert decode_state(orjson.dumps(record("a", "1", "SENT")))["state"] == "SENT"
    with pytest.raises(TypeError):
        decode_state(b'["not", "a", "record"]')
    with pytest.raises(orjson.JSONDecodeError):
        decode_state(b"{broken")
