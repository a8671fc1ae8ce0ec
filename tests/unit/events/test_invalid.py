"""pipeline.events.invalid: dead letters match `topics/schemas/invalid-record.json`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import msgspec
import orjson
import pytest

from pipeline.events.cloudevent import parse_time
from pipeline.events.invalid import (
    InternalException,
    decode_invalid,
    decode_or_dead_letter,
    encode_invalid,
    invalid_record,
)
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
    wire = orjson.loads(encode_invalid(letter))
    failed_at = parse_time(wire.pop("failed_at"))
    assert failed_at is not None
    assert before <= failed_at <= datetime.now(UTC)
    assert wire == {
        "schema": "invalid-record/1",
        "stage": "normalize",
        "reason": "missing_object_id",
        "message": "no postId",
        "provider": "oktopost",
        "instance_id": "inst1",
        "record": {"event": "postSent"},
        "element": {"data": {}},
    }


def test_the_exception_field_is_written_only_when_there_is_one() -> None:
    plain = invalid_record(
        stage="route", reason="x", message="m", provider=None, instance_id=None, record={}
    )
    assert "exception" not in orjson.loads(encode_invalid(plain))
    failed = invalid_record(
        stage="route",
        reason="internal_error",
        message="KeyError: 'a'",
        provider=None,
        instance_id=None,
        record={},
        exception=InternalException(type="KeyError", message="'a'"),
    )
    wire = orjson.loads(encode_invalid(failed))
    assert (wire["element"], wire["exception"]) == (None, {"type": "KeyError", "message": "'a'"})


def test_a_written_letter_decodes_to_the_same_value() -> None:
    letter = invalid_record(
        stage="ingress", reason="r", message="m", provider="p", instance_id="i", record=[1, "a"]
    )
    assert decode_invalid(encode_invalid(letter)) == letter


def test_a_value_that_is_not_a_letter_is_refused_by_name() -> None:
    with pytest.raises(msgspec.ValidationError, match="missing required field `stage`"):
        decode_invalid(b'{"schema": "invalid-record/1"}')


def test_json_is_decoded_without_a_letter() -> None:
    assert decode_or_dead_letter(b'{"a": [1]}', "normalize") == ({"a": [1]}, None)


def test_bytes_that_are_not_json_become_a_letter_holding_them_in_base64() -> None:
    value, letter = decode_or_dead_letter(b"\xff not json", "deliver")
    assert value is None
    assert letter is not None
    assert (letter.stage, letter.reason) == ("deliver", "unreadable_record")
    assert letter.message.startswith("not JSON: ")
    assert base64.b64decode(letter.record["undecodable_base64"]) == b"\xff not json"
    check_dead_letter(letter)


def test_an_empty_or_missing_value_is_a_letter_too() -> None:
    for raw in (b"", None):
        value, letter = decode_or_dead_letter(raw, "normalize")
        assert value is None
        assert letter is not None
        assert letter.record == {"undecodable_base64": ""}
