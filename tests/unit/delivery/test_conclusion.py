"""pipeline.delivery.conclusion: what an attempt writes and what follows it, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from pipeline.delivery.conclusion import Conclusion, DeliveryTopics, conclude
from pipeline.delivery.outcome import Outcome, OutcomeKind
from pipeline.delivery.tasks import (
    DeliveryTask,
    attempt_record,
    decode_dead,
    decode_task,
    new_task,
    task_key,
)
from pipeline.events.cloudevent import parse_time

TOPICS = DeliveryTopics(
    attempts="deliveries.attempts",
    tiers=["deliveries", "deliveries.retry.1", "deliveries.retry.2", "deliveries.retry.3"],
    dead="deliveries.dead",
)
SCHEDULE = (5.0, 25.0, 125.0)
EVENT = {"id": "e1", "source": "/oktopost/i", "subject": "post/1", "type": "t", "provider": "p"}


def task(attempt: int = 1) -> DeliveryTask:
    return msgspec.structs.replace(new_task("sub_1", EVENT, reason="live"), attempt=attempt)


def concluded(
    outcome: Outcome, *, attempt: int = 1, in_place: bool = False
) -> tuple[DeliveryTask, Conclusion]:
    given = task(attempt)
    record = attempt_record(given, outcome, datetime.now(UTC), 0.02)
    done = conclude(given, outcome, record, schedule=SCHEDULE, topics=TOPICS, in_place=in_place)
    return given, done


def due_in(value: str | None) -> float:
    due = parse_time(value)
    assert due is not None
    return (due - datetime.now(UTC)).total_seconds()


def test_a_2xx_writes_its_log_record_alone_and_is_marked() -> None:
    given, done = concluded(Outcome(OutcomeKind.DELIVERED, 200, None, None))
    assert [output.topic for output in done.records] == ["deliveries.attempts"]
    logged = msgspec.json.decode(done.records[0].value)
    assert (done.records[0].key, logged["delivery_id"], logged["outcome"]) == (
        b"sub_1",
        given.delivery_id,
        "delivered",
    )
    assert (done.delivered, done.alive, done.retry_tier, done.again) == (True, True, None, None)


def test_a_failure_moves_to_the_next_tier_after_its_delay() -> None:
    given, done = concluded(Outcome(OutcomeKind.RETRY, 503, None, None), attempt=2)
    assert [output.topic for output in done.records] == [
        "deliveries.attempts",
        "deliveries.retry.2",
    ]
    retried = decode_task(done.records[1].value)
    assert done.records[1].key == task_key("sub_1", "post/1")
    assert (retried.attempt, retried.delivery_id, retried.last_error) == (
        3,
        given.delivery_id,
        "HTTP 503",
    )
    assert 24 < due_in(retried.not_before) <= 25
    assert (done.delivered, done.alive, done.retry_tier, done.again) == (False, True, 2, None)


def test_retry_after_longer_than_the_tier_s_delay_wins() -> None:
    _, done = concluded(Outcome(OutcomeKind.RETRY, 429, 60.0, None))
    assert 59 < due_in(decode_task(done.records[1].value).not_before) <= 60


def test_in_an_ordered_lane_the_retry_holds_the_lane_instead() -> None:
    given, done = concluded(Outcome(OutcomeKind.RETRY, 500, None, None), in_place=True)
    assert [output.topic for output in done.records] == ["deliveries.attempts"]
    assert done.again is not None
    assert (done.again.attempt, done.again.delivery_id) == (2, given.delivery_id)
    assert (done.alive, done.retry_tier) == (True, 1)


@pytest.mark.parametrize(
    ("outcome", "attempt", "reason"),
    [
        (Outcome(OutcomeKind.RETRY, 500, None, None), 4, "exhausted"),
        (Outcome(OutcomeKind.DISABLE, 410, None, None), 1, "gone"),
        (Outcome(OutcomeKind.REFUSED, None, None, "destination refused"), 1, "refused"),
    ],
)
@pytest.mark.parametrize("in_place", [False, True])
def test_a_task_past_its_retries_or_refused_is_dead_lettered(
    outcome: Outcome, attempt: int, reason: str, in_place: bool
) -> None:
    given, done = concluded(outcome, attempt=attempt, in_place=in_place)
    assert [output.topic for output in done.records] == ["deliveries.attempts", "deliveries.dead"]
    dead = decode_dead(done.records[1].value)
    assert (dead.dead_reason, dead.delivery_id, dead.attempt) == (
        reason,
        given.delivery_id,
        attempt,
    )
    assert (done.delivered, done.alive, done.retry_tier, done.again) == (False, False, None, None)
