"""Provider times and objects of any shape: a time in range or None, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events.cloudevent import parse_time, rfc3339, snake_case, snake_keys
from tests.support.malformed import HUGE_NUMBERS, NASTY_STRINGS, encode, json_values
from tests.support.totality import PROPERTY, check_time

times = st.one_of(
    json_values,
    HUGE_NUMBERS,
    NASTY_STRINGS,
    st.floats(),
    st.integers(),
    st.text(st.sampled_from("0123456789-+:.TZ ²٣"), max_size=40),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
)


@PROPERTY
@given(times)
def test_parse_time_is_an_aware_utc_time_or_none(value: Any) -> None:
    moment = parse_time(value)
    if moment is not None:
        assert moment.utcoffset() is not None
        check_time(rfc3339(moment))


@PROPERTY
@given(json_values)
def test_snake_keys_keeps_any_json_value_writable(value: Any) -> None:
    try:
        decoded = orjson.loads(encode(value))
    except orjson.JSONDecodeError:
        return
    converted = snake_keys(decoded)
    assert orjson.loads(orjson.dumps(converted)) == converted
    assert all(snake_case(key) == key for key in _keys(converted))
    if isinstance(decoded, dict):  # renamed in place; keys that meet in snake_case merge
        assert list(converted) == list(dict.fromkeys(snake_case(key) for key in decoded))
    elif isinstance(decoded, list):
        assert len(converted) == len(decoded)
    else:
        assert converted == decoded


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(key for item in value.values() for key in _keys(item))]
    if isinstance(value, list):
        return [key for item in value for key in _keys(item)]
    return []


@pytest.mark.parametrize(
    "value",
    [
        1e308,
        10**40,
        -(10**40),
        float("nan"),
        float("inf"),
        "9" * 5000,
        "²",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        253402300800000,
        -62135596801,
    ],
)
def test_out_of_range_and_not_quite_numeric_times_are_none(value: Any) -> None:
    assert parse_time(value) is None


def test_the_range_ends_are_kept() -> None:
    assert parse_time(-62135596800) == datetime(1, 1, 1, tzinfo=UTC)
    assert rfc3339(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000Z"
    assert parse_time("9999-12-31T23:59:59Z") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_time(1763640000000) == parse_time(1763640000) == parse_time("1763640000")
