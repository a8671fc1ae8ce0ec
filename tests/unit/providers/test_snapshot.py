"""pipeline.providers.snapshot: `polls.raw` values round-trip; others become dead letters."""

from __future__ import annotations

import base64

import orjson
import pytest

from pipeline.providers.normalize import normalize_poll
from pipeline.providers.snapshot import PollSnapshot, decode_snapshot, encode_snapshot
from tests.support.contract import assert_valid
from tests.support.totality import CATALOG

SNAPSHOT = PollSnapshot(
    provider="hootsuite",
    instance_id="hs1",
    polled_at="2026-03-02T09:00:00.000Z",
    resource="message",
    item_id="m1",
    item={"id": "m1", "state": "SENT"},
    deleted=False,
)


def test_a_snapshot_round_trips_as_its_schema_says() -> None:
    raw = encode_snapshot(SNAPSHOT)
    assert_valid("poll-snapshot.json", orjson.loads(raw))
    assert decode_snapshot(raw) == SNAPSHOT
    assert orjson.loads(raw)["schema"] == "poll-snapshot/1"


def test_an_old_record_without_options_includes_the_raw_item() -> None:
    written = orjson.loads(encode_snapshot(SNAPSHOT))
    del written["options"]
    assert decode_snapshot(orjson.dumps(written)).options.include_raw is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"item_id": 7}, "not a snapshot: Expected `str`, got `int` - at `$.item_id`"),
        ({"deleted": None}, "not a snapshot: Expected `bool`, got `null` - at `$.deleted`"),
        ({"item": []}, "not a snapshot: Expected `object | null`, got `array` - at `$.item`"),
        ({"resource": "post"}, "not a snapshot: no poller writes 'hootsuite' 'post' snapshots"),
        ({"polled_at": "soon"}, "not a snapshot: polled_at 'soon' is not a time"),
    ],
)
def test_a_record_that_is_not_a_snapshot_is_an_unreadable_record(
    change: dict[str, object], message: str
) -> None:
    raw = orjson.dumps({**orjson.loads(encode_snapshot(SNAPSHOT)), **change})
    outcome = normalize_poll(raw, CATALOG)

    [dead] = outcome.invalid
    assert (dead.reason, dead.message, outcome.events) == ("unreadable_record", message, [])
    assert dead.record == {"undecodable_base64": base64.b64encode(raw).decode()}
