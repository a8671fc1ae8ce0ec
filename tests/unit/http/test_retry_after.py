"""pipeline.http.retry_after: delta-seconds and HTTP-dates, for delivery and Hootsuite's client."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from pipeline.http.retry_after import parse_retry_after

NOW = 1_700_000_000.0


def test_delta_seconds() -> None:
    assert parse_retry_after(" 30 ", now=NOW) == 30.0


def test_http_date_is_seconds_from_now() -> None:
    assert parse_retry_after(formatdate(NOW + 120, usegmt=True), now=NOW) == 120.0


def test_a_date_in_the_past_means_now() -> None:
    assert parse_retry_after(formatdate(NOW - 50, usegmt=True), now=NOW) == 0.0


def test_a_date_without_zone_is_gmt() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:15:00 -0000", now=NOW) == 100.0


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5", "٣", "Mon, 99 Foo 2023"])
def test_malformed_is_none(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None
