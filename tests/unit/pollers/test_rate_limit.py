"""pipeline.pollers.rate_limit: at most `rate` requests a second, bursts up to `capacity`, on a
clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.pollers.rate_limit import TokenBucket


class Clock:
    """A clock that moves only when the bucket sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_requests_are_spaced_one_over_the_rate_apart() -> None:
    time = Clock()
    bucket = TokenBucket(4.0, clock=time.clock, sleep=time.sleep)
    waits = [await bucket.acquire() for _ in range(5)]
    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert time.now == pytest.approx(101.0)  # five requests in the first second at 4/s: 1 s


async def test_a_capacity_allows_a_burst_then_the_rate() -> None:
    time = Clock()
    bucket = TokenBucket(2.0, capacity=3, clock=time.clock, sleep=time.sleep)
    waits = [await bucket.acquire() for _ in range(4)]
    assert waits == [0.0, 0.0, 0.0, 0.5]


async def test_idle_time_refills_up_to_the_capacity_only() -> None:
    time = Clock()
    bucket = TokenBucket(1.0, capacity=2, clock=time.clock, sleep=time.sleep)
    await bucket.acquire()
    await bucket.acquire()
    time.now += 60.0  # a long pause refills two tokens, not sixty
    assert [await bucket.acquire() for _ in range(3)] == [0.0, 0.0, 1.0]


async def test_a_clock_stepping_back_takes_no_tokens_away() -> None:
    time = Clock()
    bucket = TokenBucket(1.0, capacity=2, clock=time.clock, sleep=time.sleep)
    time.now -= 50.0
    assert [await bucket.acquire() for _ in range(2)] == [0.0, 0.0]


async def test_concurrent_callers_queue_behind_each_other() -> None:
    time = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # all asleep at once: the clock stands still
        slept.append(seconds)

    bucket = TokenBucket(10.0, clock=time.clock, sleep=sleep)
    waits = await asyncio.gather(*(bucket.acquire() for _ in range(4)))
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])  # each took its token before sleeping
    assert slept == pytest.approx([0.1, 0.2, 0.3])


@pytest.mark.parametrize(("rate", "capacity"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.5)])
def test_a_rate_that_is_not_positive_or_a_capacity_under_one_is_refused(
    rate: float, capacity: float
) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(rate, capacity=capacity)
