"""bench/soak/accounting.py: each accepted event's verdict from the topics and the subscriber."""

from __future__ import annotations

from bench.soak.accounting import (
    Answer,
    Evidence,
    Expected,
    Spot,
    Verdict,
    account,
    classify,
    recheck,
)

NOW = 1_000_000.0  # epoch seconds of the evidence
GRACE = 10.0
EVENT = Expected("e1", "msg_1")
OK, FAILED = Answer(1.0, 1.1, 200), Answer(1.0, 1.1, 500)


def task(topic: str, offset: int, *, at_ms: int = 0, due: float | None = None) -> Spot:
    return Spot(topic, 0, offset, at_ms, due)


def test_a_2xx_answer_is_a_delivery_and_a_500_is_not() -> None:
    assert classify(EVENT, Evidence(answers={"msg_1": [FAILED, OK]}), GRACE) == Verdict("delivered")
    assert classify(EVENT, Evidence(answers={"msg_1": [FAILED]}), GRACE).state != "delivered"


def test_a_dead_letter_is_dead() -> None:
    evidence = Evidence(dead={"msg_1"}, tasks={"msg_1": [task("deliveries", 3)]})

    assert classify(EVENT, evidence, GRACE) == Verdict("dead")


def test_an_unconsumed_task_is_pending_on_the_topic_of_its_latest_copy() -> None:
    tasks = [task("deliveries", 4, at_ms=1), task("deliveries.retry.2", 9, at_ms=5)]
    committed = {("deliveries", 0): 5, ("deliveries.retry.2", 0): 9}
    evidence = Evidence(tasks={"msg_1": tasks}, committed=committed, now=NOW)

    assert classify(EVENT, evidence, GRACE) == Verdict("pending", "deliveries.retry.2")


def test_a_consumed_task_just_due_is_still_pending() -> None:
    """faust may commit past a task in flight; a task due a moment ago is not judged lost."""
    spot = task("deliveries.retry.1", 2, due=NOW - 3)
    evidence = Evidence(tasks={"msg_1": [spot]}, committed={("deliveries.retry.1", 0): 3}, now=NOW)

    assert classify(EVENT, evidence, GRACE) == Verdict("pending", "deliveries.retry.1")


def test_a_consumed_task_without_delivery_or_follow_up_is_lost_in_deliver() -> None:
    spot = task("deliveries.retry.1", 2, due=NOW - 60)
    evidence = Evidence(tasks={"msg_1": [spot]}, committed={("deliveries.retry.1", 0): 3}, now=NOW)

    assert classify(EVENT, evidence, GRACE) == Verdict("lost", "deliver", spot)
    assert account([EVENT], evidence, GRACE).to_dict()["lost_tasks"] == ["deliveries.retry.1[0]@2"]


def test_a_normalized_event_without_task_is_stalled_until_route_commits_past_it() -> None:
    normalized = {"e1": [Spot("events.normalized", 1, 7)]}

    stalled = Evidence(normalized=normalized, committed={("events.normalized", 1): 7})
    lost = Evidence(normalized=normalized, committed={("events.normalized", 1): 8})

    assert classify(EVENT, stalled, GRACE) == Verdict("stalled", "route")
    assert classify(EVENT, lost, GRACE) == Verdict("lost", "route")


def test_a_raw_record_not_normalized_is_stalled_or_lost_in_normalize() -> None:
    raw = {"e1": Spot("webhooks.raw", 2, 10)}

    assert classify(EVENT, Evidence(raw=raw), GRACE) == Verdict("stalled", "normalize")
    consumed = Evidence(raw=raw, committed={("webhooks.raw", 2): 11})
    assert classify(EVENT, consumed, GRACE) == Verdict("lost", "normalize")


def test_an_accepted_event_missing_from_the_raw_topic_is_lost_at_the_ingress() -> None:
    assert classify(EVENT, Evidence(), GRACE) == Verdict("lost", "ingress")


def test_account_counts_every_verdict_and_repeats() -> None:
    expected = [Expected(f"e{n}", f"msg_{n}") for n in range(4)]
    evidence = Evidence(
        answers={"msg_0": [OK, OK, OK], "msg_1": [OK]},
        dead={"msg_2"},
        normalized={"e0": [Spot("events.normalized", 0, 1), Spot("events.normalized", 0, 5)]},
        raw={"e3": Spot("webhooks.raw", 0, 4)},
    )

    result = account(expected, evidence, GRACE)

    assert (result.expected, result.delivered, result.dead) == (4, 2, 1)
    assert dict(result.stalled) == {"normalize": 1}
    assert (result.repeated, result.extra_deliveries, result.normalized_repeats) == (1, 2, 1)
    assert result.undelivered == {"msg_3": "stalled:normalize"}
    assert result.to_dict()["lost_total"] == 0


def test_recheck_counts_late_deliveries_and_final_losses() -> None:
    undelivered = {"msg_a": "lost:route", "msg_b": "pending:deliveries", "msg_c": "lost:deliver"}

    found = recheck(undelivered, {"msg_a": [OK], "msg_b": [FAILED]})

    assert found == {"delivered_later": 1, "never_delivered": 2, "lost_final": 1}
