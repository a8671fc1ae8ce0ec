"""pipeline.config.ingress_limit: an instance's webhooks-in limit as the admin API takes it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pipeline.config.ingress_limit import burst_of, limit_fields
from pipeline.config.requests import RequestError


def test_only_the_fields_given_are_returned() -> None:
    assert limit_fields({}) == {}
    assert limit_fields({"name": "x"}) == {}
    assert limit_fields({"max_requests_per_second": 5}) == {"max_requests_per_second": 5.0}
    assert limit_fields({"burst": 3}) == {"burst": 3}
    assert limit_fields({"max_requests_per_second": None, "burst": None}) == {
        "max_requests_per_second": None,
        "burst": None,
    }


@pytest.mark.parametrize("rate", [0, -1, math.inf, math.nan, True, "5"])
def test_a_rate_that_is_not_a_positive_number_is_refused(rate: Any) -> None:
    with pytest.raises(RequestError) as refused:
        limit_fields({"max_requests_per_second": rate})
    assert refused.value.field == "max_requests_per_second"


@pytest.mark.parametrize("burst", [0, -2, 1.5, True, "3"])
def test_a_burst_that_is_not_a_positive_integer_is_refused(burst: Any) -> None:
    with pytest.raises(RequestError) as refused:
        limit_fields({"burst": burst})
    assert refused.value.field == "burst"


def test_the_bucket_is_the_burst_or_one_seconds_worth() -> None:
    assert burst_of(10.0, 3) == 3.0
    assert burst_of(2.5, None) == 3.0
    assert burst_of(0.1, None) == 1.0
