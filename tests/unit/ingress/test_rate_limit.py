"""The per-instance token bucket of the ingress, and the API's limit fields."""

from __future__ import annotations

import pytest

from pipeline.config.instances import (
    Instance,
    create_instance,
    decode_instance,
    encode_instance,
    patch_instance,
)
from pipeline.config.requests import RequestError
from pipeline.ingress.rate_limit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _instance(rate: float | None, burst: int | None = None, name: str = "i") -> Instance:
    return Instance(
        id=name,
        provider="hootsuite",
        name=name,
        enabled=True,
        created="t",
        modified="t",
        max_requests_per_second=rate,
        burst=burst,
    )


def test_a_burst_is_admitted_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    limited = _instance(2.0, burst=3)
    assert [limiter.admit(limited) for _ in range(3)] == [None, None, None]
    assert limiter.admit(limited) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.admit(limited) is None
    assert limiter.admit(limited) == pytest.approx(0.5)
    clock.now += 10  # refills to the burst, no further
    assert [limiter.admit(limited) for _ in range(4)][:3] == [None, None, None]
    assert limiter.admit(limited) is not None


def test_instances_have_buckets_of_their_own_and_no_limit_is_no_bucket() -> None:
    limiter = RateLimiter(Clock())
    flooding, other, free = _instance(1.0, name="a"), _instance(1.0, name="b"), _instance(None)
    assert limiter.admit(flooding) is None
    assert limiter.admit(flooding) is not None
    assert limiter.admit(other) is None
    assert all(limiter.admit(free) is None for _ in range(1000))


def test_the_default_burst_is_one_seconds_worth() -> None:
    limiter = RateLimiter(Clock())
    limited = _instance(2.5)
    assert [limiter.admit(limited) is None for _ in range(4)] == [True, True, True, False]


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after(w) for w in (0.01, 1.0, 1.2, 30.0)] == ["1", "1", "2", "30"]


def test_the_limit_is_set_validated_and_removed_through_the_api() -> None:
    instance, _ = create_instance(
        {"provider": "hootsuite", "max_requests_per_second": 50, "burst": 100}
    )
    assert (instance.max_requests_per_second, instance.burst) == (50.0, 100)
    assert decode_instance(encode_instance(instance)) == instance
    patched = patch_instance(instance, {"max_requests_per_second": None})
    assert (patched.max_requests_per_second, patched.burst) == (None, 100)
    assert patch_instance(instance, {"name": "n"}).max_requests_per_second == 50.0
    for bad in (
        {"max_requests_per_second": 0},
        {"max_requests_per_second": "5"},
        {"burst": 0},
        {"burst": 1.5},
        {"burst": True},
    ):
        with pytest.raises(RequestError):
            create_instance({"provider": "hootsuite", **bad})
