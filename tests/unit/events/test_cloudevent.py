"""pipeline.events.cloudevent: ids, RFC 3339 times both ways, snake_case keys, the event shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events.cloudevent import (
    ID_NAMESPACE,
    CloudEvent,
    Lineage,
    build_event,
    event_id,
    parse_time,
    rfc3339,
    snake_case,
    snake_keys,
)
from pipeline.settings import REPO_ROOT
from tests.support.totality import PROPERTY, RFC3339_MS

aware_moments = st.datetimes(
    min_value=datetime(1, 1, 2),  # a day inside the range, so that any offset stays in it
    max_value=datetime(9999, 12, 30),
    timezones=st.timezones(),
)


def _to_ms(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


@PROPERTY
@given(aware_moments)
def test_rfc3339_then_parse_time_is_the_moment_to_the_millisecond(moment: datetime) -> None:
    text = rfc3339(moment)
    assert RFC3339_MS.fullmatch(text)
    assert parse_time(text) == _to_ms(moment)


@PROPERTY
@given(aware_moments)
def test_parse_time_then_rfc3339_is_a_fixed_point(moment: datetime) -> None:
    text = rfc3339(moment)
    parsed = parse_time(text)
    assert parsed is not None
    assert rfc3339(parsed) == text


@PROPERTY
@given(st.integers(min_value=0, max_value=99_999_999_999))
def test_unix_seconds_in_any_spelling_are_the_same_moment(seconds: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    assert parse_time(seconds) == expected
    assert parse_time(float(seconds)) == expected
    assert parse_time(str(seconds)) == expected
    assert parse_time(f"  {seconds} ") == expected


@PROPERTY
@given(st.integers(min_value=100_000_000_001, max_value=253_402_300_799_000))
def test_numbers_above_1e11_are_milliseconds(milliseconds: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)
    parsed = parse_time(milliseconds)
    assert parsed is not None
    assert abs(parsed - expected) < timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-20T12:30:00Z", datetime(2025, 11, 20, 12, 30, tzinfo=UTC)),
        ("2025-11-20T14:30:00+02:00", datetime(2025, 11, 20, 12, 30, tzinfo=UTC)),
        ("2025-11-20 12:30:00", datetime(2025, 11, 20, 12, 30, tzinfo=UTC)),  # Oktopost: UTC
        ("2025-11-20T12:30:00.123456Z", datetime(2025, 11, 20, 12, 30, 0, 123456, tzinfo=UTC)),
        ("2025-11-20", datetime(2025, 11, 20, tzinfo=UTC)),
    ],
)
def test_provider_time_spellings(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize("value", [None, True, False, "", "   ", "soon", [], {}, b"1763640000"])
def test_what_is_not_a_time_is_none(value: object) -> None:
    assert parse_time(value) is None


def test_rfc3339_writes_utc_with_milliseconds_and_z() -> None:
    moment = datetime(2025, 11, 20, 14, 30, 0, 123999, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2025-11-20T12:30:00.123Z"


def test_event_id_is_a_uuid5_of_the_identity_stable_and_distinct() -> None:
    first = event_id("oktopost", "inst1", "w1", "42")
    assert first == event_id("oktopost", "inst1", "w1", "42")
    assert uuid.UUID(first).version == 5
    assert first == str(uuid.uuid5(ID_NAMESPACE, "oktopost\x1finst1\x1fw1\x1f42"))
    # parts are separated, so moving a boundary changes the id
    assert event_id("ab", "c") != event_id("a", "bc")
    assert event_id(1) == event_id("1")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postId", "post_id"),
        ("sentAt", "sent_at"),
        ("socialProfileId", "social_profile_id"),
        ("already_snake", "already_snake"),
        ("v2Name", "v2_name"),
        ("ID", "id"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_snake_keys_converts_nested_keys_and_times_ending_in_at() -> None:
    converted = snake_keys(
        {
            "postId": "1",
            "sentAt": "2025-11-20 12:30:00",
            "createdAt": 1763640000,
            "updatedAt": "not a time",
            "author": {"userName": "x", "items": [{"itemId": 2, "seenAt": 1763640000000}]},
            "format": None,
        }
    )
    assert converted == {
        "post_id": "1",
        "sent_at": "2025-11-20T12:30:00.000Z",
        "created_at": "2025-11-20T12:00:00.000Z",
        "updated_at": "not a time",  # kept as it was: the schema check decides
        "author": {
            "user_name": "x",
            "items": [{"item_id": 2, "seen_at": "2025-11-20T12:00:00.000Z"}],
        },
        "format": None,
    }


def test_lineage_received_time_reads_received_at() -> None:
    lineage = Lineage("oktopost", "inst1", "2025-11-20T12:30:01.000Z")
    assert lineage.received_time == datetime(2025, 11, 20, 12, 30, 1, tzinfo=UTC)
    assert lineage.include_raw
    assert lineage.identity == "delivery"


def test_an_unreadable_received_at_falls_back_to_now() -> None:
    before = datetime.now(UTC)
    received = Lineage("oktopost", "inst1", "garbled").received_time
    assert before <= received <= datetime.now(UTC)


def test_build_event_is_a_cloudevent_with_lineage_subject_and_id_field() -> None:
    lineage = Lineage("oktopost", "inst1", "2025-11-20T12:30:01.000Z")
    event = build_event(
        lineage,
        identity=("w1", "42"),
        event_type="lead.created",
        object_id="42",
        provider_event="leadCreated",
        time=datetime(2025, 11, 20, 12, 30, tzinfo=UTC),
        data={"email": "a@example.com"},
        raw={"leadId": "42"},
    )
    assert event == {
        "specversion": "1.0",
        "id": event_id("oktopost", "inst1", "w1", "42"),
        "source": "/instances/inst1",
        "type": "lead.created",
        "subject": "leads/42",
        "time": "2025-11-20T12:30:00.000Z",
        "datacontenttype": "application/json",
        "provider": "oktopost",
        "providerevent": "leadCreated",
        "instanceid": "inst1",
        "receivedat": "2025-11-20T12:30:01.000Z",
        "data": {"email": "a@example.com", "lead_id": "42", "raw": {"leadId": "42"}},
    }


def test_build_event_leaves_raw_out_when_the_lineage_says_so() -> None:
    lineage = Lineage("hootsuite", "h1", "2025-11-20T12:30:01.000Z", include_raw=False)
    event = build_event(
        lineage,
        identity=("m1",),
        event_type="post.sent",
        object_id="m1",
        provider_event="SENT",
        time=datetime(2025, 11, 20, tzinfo=UTC),
        data={"post_id": "ignored"},
        raw={"id": "m1"},
    )
    assert event["data"] == {"post_id": "m1"}  # the subject's id wins over the data's


def test_build_event_refuses_an_unknown_type() -> None:
    lineage = Lineage("oktopost", "inst1", "2025-11-20T12:30:01.000Z")
    with pytest.raises(KeyError):
        build_event(
            lineage,
            identity=(),
            event_type="post.exploded",
            object_id="1",
            provider_event="x",
            time=datetime(2025, 11, 20, tzinfo=UTC),
            data={},
            raw=None,
        )


def test_the_cloudevent_type_is_the_contract_s_schema_and_build_event_s_order() -> None:
    """`CloudEvent` names every attribute the schema requires, in the order events are written."""
    schema = orjson.loads((REPO_ROOT / "topics" / "schemas" / "cloudevent.json").read_bytes())
    lineage = Lineage("oktopost", "inst1", "2025-11-20T12:30:00.000Z")
    event = build_event(
        lineage,
        identity=("w1",),
        event_type="lead.created",
        object_id="42",
        provider_event="leadCreated",
        time=datetime(2025, 11, 20, 12, 30, tzinfo=UTC),
        data={},
        raw={},
    )
    assert list(CloudEvent.__annotations__) == schema["required"] == list(event)
    assert list(schema["properties"]) == schema["required"]
