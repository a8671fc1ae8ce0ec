"""A failing instance's back-off and log lines: quiet, bounded, and never a secret."""

from __future__ import annotations

import logging
import random

import pytest

from pipeline.pollers.failure_policy import FailureLog, backoff_delay

INSTANCE = "inst_failing"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if INSTANCE in r.getMessage()]


def test_the_backoff_doubles_from_one_second_up_to_the_interval() -> None:
    rng = random.Random(7)  # noqa: S311 - jitter, not a secret
    steps = [max(backoff_delay(n, 60.0, rng) for _ in range(200)) for n in range(1, 10)]
    lows = [min(backoff_delay(n, 60.0, rng) for _ in range(200)) for n in range(1, 10)]

    assert steps == pytest.approx([1, 2, 4, 8, 16, 32, 60, 60, 60], rel=0.05)
    # Equal jitter: never sooner than half the step, so a failing instance does back off.
    assert lows == pytest.approx([0.5, 1, 2, 4, 8, 16, 30, 30, 30], rel=0.1)
    assert all(low >= step / 2 for low, step in zip(lows, steps, strict=True))


def test_a_huge_failure_count_stays_at_the_interval() -> None:
    assert backoff_delay(10_000, 5.0, random.Random(1))  # noqa: S311 <= 5.0


def test_one_line_when_failing_starts_then_one_a_minute_then_one_on_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    failures = FailureLog(INSTANCE, clock=clock)

    failures.failed("provider_unavailable", "POST /oauth2/token: ClientConnectorError")
    for _ in range(100):  # a hundred more failed polls within the minute: silent
        clock.now += 0.5
        failures.failed("provider_unavailable", "POST /oauth2/token: ClientConnectorError")
    assert len(lines(caplog)) == 1
    clock.now += 10.0  # 60 s after the first line
    failures.failed("auth_failed", "token request refused: HTTP 401")
    clock.now += 1.0
    failures.failed("auth_failed", "token request refused: HTTP 401")
    clock.now += 5.0
    failures.succeeded()
    failures.succeeded()  # healthy again: nothing more to say

    logged = lines(caplog)
    assert [level for level, _ in logged] == [logging.WARNING, logging.WARNING, logging.INFO]
    first, repeat, recovered = (message for _, message in logged)
    assert "is failing: provider_unavailable: POST /oauth2/token" in first
    assert "still failing: 102 failed polls in 60s (101 since the last line)" in repeat
    assert "latest auth_failed" in repeat
    assert "recovered after 103 failed polls in 66s" in recovered
    assert failures.failures == 0


def test_a_new_run_of_failures_after_a_recovery_is_logged_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    failures = FailureLog(INSTANCE, clock=clock)
    failures.failed("rate_limited", "HTTP 429")
    failures.succeeded()
    clock.now += 1.0
    failures.failed("rate_limited", "HTTP 429")

    assert [m for _, m in lines(caplog)][-1].endswith("is failing: rate_limited: HTTP 429")
    assert len(lines(caplog)) == 3
