"""pipeline.events.invalid: dead letters match `topics/schemas/invalid-record.json`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson

from pipeline.events.cloudevent import parse_time
from pipeline.events.invalid import decode_or_dead_letter, invalid_record
from tests.support.totality import check_dead_letter


def test_an_invalid_record_carries_what_failed_where_and_when() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    letter = invalid_record(
        stage="normalize",
        reason="missing_object_id",
        message="no postId",
        provider="oktopost",
        instance_id="inst1",
        record={"event": "postSent"},
        element={"data": {}},
    )
    failed_at = parse_time(letter.pop("failed_at"))
    assert failed_at is not None
    assert before <= failed_at <= datetime.now(UTC)
    assert letter == {
        "schema": "invalid-record/1",
        "stage": "normalize",
        "reason": "missing_object_id",
        "message": "no postId",
        "provider": "oktopost",
        "instance_id": "inst1",
        "record": {"event": "postSent"},
        "element": {"data": {}},
    }


def test_json_is_decoded_without_a_letter() -> None:
    assert decode_or_dead_letter(b'{"a": [1]}', "normalize") == ({"a": [1]}, None)


def test_bytes_that_are_not_json_become_a_letter_holding_them_in_base64() -> None:
    value, letter = decode_or_dead_letter(b"\xff not json", "deliver")
    assert value is None
    assert letter is not None
    assert (letter["stage"], letter["reason"]) == ("deliver", "unreadable_record")
    assert letter["message"].startswith("not JSON: ")
    assert base64.b64decode(letter["record"]["undecodable_base64"]) == b"\xff not json"
    check_dead_letter(letter)
    assert orjson.loads(orjson.dumps(letter)) == letter


def test_an_empty_or_missing_value_is_a_letter_too() -> None:
    for raw in (b"", None):
        value, letter = decode_or_dead_letter(raw, "normalize")
        assert value is None
        assert letter is not None
        assert letter["record"] == {"undecodable_base64": ""}
