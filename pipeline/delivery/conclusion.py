"""What one attempt leaves behind, decided without I/O: the records it writes and what comes next.

The deliver agent (`pipeline.agents.deliver`) writes `records`, marks the webhook-id delivered
when `delivered`, and either ends the task or, in an ordered lane, holds its lane for `again`.
Every attempt is logged on `deliveries.attempts` (its record first). A failure that may be
retried goes to the next retry tier (`retry_tier`), after the longer of the tier's delay and the
subscriber's `Retry-After`; an ordered task is retried in place instead, on the same schedule.
Past the last tier, or on a refusal or 410, the task is dead-lettered with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.contract.output import Output
from pipeline.delivery.outcome import Outcome, OutcomeKind
from pipeline.delivery.tasks import (
    DeliveryAttempt,
    DeliveryTask,
    dead_letter,
    encode,
    key_of,
    retry_task,
)

DEAD_REASONS = {OutcomeKind.DISABLE: "gone", OutcomeKind.REFUSED: "refused"}  # else "exhausted"


@dataclass(frozen=True, slots=True)
class DeliveryTopics:
    """The names of the topics an attempt writes to."""

    attempts: str
    tiers: Sequence[str]  # [deliveries, deliveries.retry.1, …]
    dead: str


@dataclass(frozen=True, slots=True)
class Conclusion:
    records: list[Output]  # the attempt's log record, then its retry or dead letter, if any
    delivered: bool  # answered 2xx: mark the webhook-id delivered
    retry_tier: int | None  # the tier of its next attempt (in place too), None if none
    dead: bool  # dead-lettered: no attempt follows
    again: DeliveryTask | None  # in place: the next attempt, which holds the task's lane

    @property
    def alive(self) -> bool:
        """False if the task ended dead (its lane's waiting tasks then follow it)."""
        return not self.dead


def conclude(
    task: DeliveryTask,
    outcome: Outcome,
    record: DeliveryAttempt,
    *,
    schedule: Sequence[float],
    topics: DeliveryTopics,
    in_place: bool,
) -> Conclusion:
    """`schedule`: the retry tiers' delays in seconds; `in_place`: the task runs in an ordered
    lane, so a retry keeps its lane instead of moving to the next tier."""
    records = [Output(topics.attempts, task.subscription_id.encode(), encode(record))]
    kind = outcome.kind
    if kind is OutcomeKind.DELIVERED:
        return Conclusion(records, delivered=True, retry_tier=None, dead=False, again=None)
    if kind is OutcomeKind.RETRY and task.attempt <= len(schedule):
        tier = task.attempt
        retried = retry_task(task, max(schedule[tier - 1], outcome.retry_after or 0.0), outcome)
        if in_place:
            return Conclusion(records, delivered=False, retry_tier=tier, dead=False, again=retried)
        records.append(Output(topics.tiers[tier], key_of(task), encode(retried)))
        return Conclusion(records, delivered=False, retry_tier=tier, dead=False, again=None)
    dead = dead_letter(task, DEAD_REASONS.get(kind, "exhausted"), outcome)
    records.append(Output(topics.dead, key_of(task), encode(dead)))
    return Conclusion(records, delivered=False, retry_tier=None, dead=True, again=None)
