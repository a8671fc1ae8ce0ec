"""bench/soak/timing.py: in-flight requests, repeats at risk and their causes, resumption."""

from __future__ import annotations

import pytest

from bench.soak.accounting import Answer, Evidence, Spot
from bench.soak.timing import (
    at_risk_estimate,
    before_kill_ms,
    by_kill,
    fresh_resume_after,
    in_flight_at,
    repeat_causes,
    resume_after,
    unconcluded_at,
)

KILL = 100.0  # monotonic
KILL_WALL = 5_000.0  # epoch seconds
ANSWERS = [
    Answer(90.0, 90.1, 200),  # long before the kill
    Answer(98.0, 98.5, 200),  # within the commit interval before it
    Answer(99.0, 102.5, 200),  # in flight at the kill
    Answer(99.5, 100.5, 500),  # in flight at the kill
    Answer(101.0, 101.0, 500),  # after it, failed
    Answer(108.0, 108.1, 200),  # after it, delivered
]


def test_in_flight_counts_requests_open_at_the_moment() -> None:
    assert in_flight_at(ANSWERS, KILL) == 2


@pytest.mark.parametrize(
    ("kind", "estimate"), [("worker", 4.0), ("worker-of-two", 2.0), ("ingress", 0.0)]
)
def test_at_risk_adds_in_flight_recent_2xx_and_recent_routing(kind: str, estimate: float) -> None:
    routed = [Spot("deliveries", 0, 1, int((KILL_WALL - 1) * 1000))]
    old = [Spot("deliveries", 0, 0, int((KILL_WALL - 60) * 1000))]
    evidence = Evidence(tasks={"msg_a": routed, "msg_b": old})

    assert at_risk_estimate(ANSWERS, evidence, KILL, KILL_WALL, kind=kind) == estimate


def test_a_broker_kill_risks_the_commits_of_its_outage_not_the_requests_in_flight() -> None:
    evidence = Evidence(tasks={"msg_a": [Spot("deliveries", 0, 1, int((KILL_WALL + 5) * 1000))]})

    # 2xx answered at 98.5 (before the kill), 102.5 and 108.1 (in the 10 s outage); one task routed
    estimate = at_risk_estimate(ANSWERS, evidence, KILL, KILL_WALL, kind="broker", outage=10.0)

    assert estimate == 4.0


def test_resume_is_the_first_2xx_arriving_after_the_restart() -> None:
    assert resume_after(ANSWERS, 100.5) == 7.5
    assert resume_after(ANSWERS, 200.0) is None


def test_fresh_resume_counts_only_events_accepted_after_the_restart() -> None:
    answers = {"old": [Answer(101.0, 101.0, 200)], "new": [Answer(104.0, 104.2, 200)]}
    accepted_at = {"old": 95.0, "new": 102.0}

    assert fresh_resume_after(answers, accepted_at, 100.0) == 4.0
    assert fresh_resume_after(answers, {"old": 95.0}, 100.0) is None


def test_repeats_are_attributed_to_their_first_cause() -> None:
    twice = [Answer(110.0, 110.1, 200), Answer(120.0, 120.1, 200)]
    evidence = Evidence(
        answers={
            "open": [Answer(99.0, 101.0, 200), Answer(110.0, 110.0, 200)],
            "before": [Answer(90.0, 90.1, 200), Answer(110.0, 110.0, 200)],
            "routed": twice,
            "replay": twice,
            "slow": twice,
            "odd": twice,
            "once": twice[:1],
        },
        tasks={"routed": [Spot("deliveries", 0, 1), Spot("deliveries", 0, 9)]},
        replayed={"replay"},
        timed_out={"slow", "replay"},
    )

    causes = repeat_causes(evidence, evidence.answers, KILL, "worker")

    assert causes == {
        "in_flight": 1,
        "before_kill": 1,
        "routed_twice": 1,
        "replayed": 1,
        "timeout": 1,
        "other": 1,
    }
    assert by_kill(causes) == 4


def test_the_kill_moment_explains_no_repeat_when_no_deliverer_was_killed() -> None:
    evidence = Evidence(
        answers={"open": [Answer(99.0, 101.0, 200), Answer(110.0, 110.0, 200)]},
        timed_out={"open"},
    )

    causes = repeat_causes(evidence, evidence.answers, KILL, "poller")

    assert (causes["in_flight"], causes["timeout"], by_kill(causes)) == (0, 1, 0)


def test_before_kill_repeats_say_how_long_before_the_kill_they_were_answered() -> None:
    evidence = Evidence(
        answers={
            "open": [Answer(99.0, 101.0, 200), Answer(110.0, 110.0, 200)],
            "just": [Answer(99.9, 99.98, 200), Answer(110.0, 110.0, 200)],
            "before": [Answer(90.0, 90.1, 200), Answer(110.0, 110.0, 200)],
            "once": [Answer(90.0, 90.1, 200)],
        }
    )

    assert before_kill_ms(evidence, evidence.answers, KILL, "worker") == [20.0, 9900.0]
    assert before_kill_ms(evidence, evidence.answers, KILL, "ingress") == []


def test_answered_but_not_concluded_deliveries_are_in_flight_for_a_killed_worker() -> None:
    evidence = Evidence(
        answers={
            "unread": [Answer(99.0, 99.99, 200)],  # answered; the worker never logged it
            "logging": [Answer(99.0, 99.98, 200)],  # logged only after the kill
            "done": [Answer(98.0, 98.5, 200)],  # logged before the kill
            "timed-out": [Answer(94.0, 99.5, 200)],  # the worker gave up on it at 99.0
            "open": [Answer(99.0, 101.0, 200)],  # still open at the kill: counted apart
            "failed": [Answer(99.0, 99.5, 500)],
        },
        concluded={"logging": KILL_WALL + 0.01, "done": KILL_WALL - 1.4},
    )

    assert (
        unconcluded_at(evidence, evidence.answers, KILL, KILL_WALL, kind="worker", timeout=5.0) == 2
    )
    assert (
        unconcluded_at(evidence, ["done", "logging"], KILL, KILL_WALL, kind="worker", timeout=5.0)
        == 1
    )
    assert (
        unconcluded_at(evidence, evidence.answers, KILL, KILL_WALL, kind="broker", timeout=5.0) == 0
    )
