"""Where each accepted event of a soak round ended up: delivered, dead, pending, stalled or lost.

Pure: the session reads the evidence (`soak_topics`, `soak_answers`) and this module judges it.

The expected set. An event is expected once the pipeline acknowledged it:
- a webhook the ingress answered 202: its CloudEvent ids are computed from the payload the load
  generator sent (ids are deterministic from the provider's identity of the occurrence, DESIGN.md),
  not read back from the pipeline, so an event dropped before anything was written still counts;
- a Hootsuite snapshot on `polls.raw` of the round: the poller has no answer to read, and it
  records a state only after the snapshot's ack, so the topic is the record of what it accepted.
Resends share their original's ids, so they add nothing to the set: a second delivery of one is
a repeat. Each event's `webhook-id` is computed as the deliver agent computes it (subscription id,
source, event id), so the subscriber's log can be matched without parsing bodies.

Verdicts, first match wins, from Kafka records and the worker group's committed offsets:
- delivered: the subscriber answered 2xx to a request carrying its webhook-id;
- dead: a task with its webhook-id is on `deliveries.dead`;
- pending (per topic): its latest task on `deliveries` or `deliveries.retry.N` is not consumed yet
  (at or past the group's committed offset), or was due less than `grace` seconds ago (faust may
  commit past a task still in flight, DESIGN.md, faust-streaming/faust#606);
- stalled (per stage): no task, but its record on `events.normalized` (route) or on the raw topic
  (normalize) is not consumed yet: present upstream, not processed — a stall, not a loss;
- lost (per stage): a stage committed past the event's record and wrote nothing downstream — deliver
  (a consumed task with neither a delivery nor a later task), route, normalize — or, for
  ingress, a 202 whose record is not on `webhooks.raw` at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.contract.topics import Topic, delivery_tier

DELIVERED, DEAD, PENDING, STALLED, LOST = "delivered", "dead", "pending", "stalled", "lost"
LOST_TASKS_KEPT = 50


@dataclass(frozen=True)
class Spot:
    """One record of a topic (its manifest name) as the accounting needs it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0
    due: float | None = None  # delivery tasks: `not_before`, epoch seconds


@dataclass(frozen=True)
class Answer:
    """One request the subscriber answered (times: `time.monotonic()`)."""

    arrived: float
    answered: float
    status: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Expected:
    event_id: str
    webhook_id: str
    raw_topic: str = Topic.WEBHOOKS_RAW  # or Topic.POLLS_RAW


@dataclass
class Evidence:
    """What Kafka and the subscriber hold about one round's events."""

    raw: dict[str, Spot] = field(default_factory=dict)  # event id → first raw record
    normalized: dict[str, list[Spot]] = field(default_factory=dict)  # event id → its records
    tasks: dict[str, list[Spot]] = field(default_factory=dict)  # webhook id → task records
    dead: set[str] = field(default_factory=set)  # webhook ids on deliveries.dead
    timed_out: set[str] = field(default_factory=set)  # webhook ids with an attempt that timed out
    replayed: set[str] = field(
        default_factory=set
    )  # webhook ids with one task attempt logged twice
    committed: dict[tuple[str, int], int] = field(default_factory=dict)  # worker group
    # webhook id → epoch seconds of its first attempt logged as delivered (the worker concluded it)
    concluded: dict[str, float] = field(default_factory=dict)
    answers: Mapping[str, list[Answer]] = field(default_factory=dict)  # webhook id → answers
    now: float = 0.0  # epoch seconds when the evidence was read

    def consumed(self, spot: Spot) -> bool:
        return self.committed.get((spot.topic, spot.partition), 0) > spot.offset


@dataclass(frozen=True)
class Verdict:
    state: str
    where: str = ""  # pending: topic; stalled and lost: stage
    spot: Spot | None = None  # lost at deliver: the task committed past, for the post-mortem


def tier_of(topic: str) -> int:
    """`deliveries` → 0, `deliveries.retry.N` → N: later tiers hold later attempts."""
    return delivery_tier(topic) or 0


def latest_task(tasks: Iterable[Spot]) -> Spot:
    return max(tasks, key=lambda spot: (spot.timestamp_ms, tier_of(spot.topic), spot.offset))


def classify(expected: Expected, evidence: Evidence, grace: float) -> Verdict:
    if any(answer.ok for answer in evidence.answers.get(expected.webhook_id, ())):
        return Verdict(DELIVERED)
    if expected.webhook_id in evidence.dead:
        return Verdict(DEAD)
    tasks = evidence.tasks.get(expected.webhook_id)
    if tasks:
        task = latest_task(tasks)
        recently_due = task.due is not None and evidence.now - task.due < grace
        if not evidence.consumed(task) or recently_due:
            return Verdict(PENDING, task.topic)
        return Verdict(LOST, "deliver", task)
    return _upstream(expected, evidence)


def _upstream(expected: Expected, evidence: Evidence) -> Verdict:
    """An event without any delivery task: where it stopped, and whether that stage moved on."""
    normalized = evidence.normalized.get(expected.event_id)
    if normalized:
        done = all(evidence.consumed(spot) for spot in normalized)
        return Verdict(LOST if done else STALLED, "route")
    raw = evidence.raw.get(expected.event_id)
    if raw is None:
        return Verdict(LOST, "ingress")
    return Verdict(LOST if evidence.consumed(raw) else STALLED, "normalize")


@dataclass
class Account:
    """One round's figures; `undelivered` maps webhook id → verdict for the session-end recheck."""

    expected: int = 0
    delivered: int = 0
    dead: int = 0
    pending: Counter[str] = field(default_factory=Counter)
    stalled: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    repeated: int = 0  # webhook ids answered 2xx more than once
    extra_deliveries: int = 0  # 2xx answers beyond the first, summed
    normalized_repeats: int = 0  # events written to events.normalized more than once
    undelivered: dict[str, str] = field(default_factory=dict)
    lost_tasks: list[str] = field(default_factory=list)  # "topic[partition]@offset", at most 50

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.expected,
            "delivered": self.delivered,
            "dead": self.dead,
            "pending": dict(sorted(self.pending.items())),
            "pending_total": sum(self.pending.values()),
            "stalled": dict(sorted(self.stalled.items())),
            "stalled_total": sum(self.stalled.values()),
            "lost": dict(sorted(self.lost.items())),
            "lost_total": sum(self.lost.values()),
            "repeated": self.repeated,
            "extra_deliveries": self.extra_deliveries,
            "normalized_repeats": self.normalized_repeats,
            "lost_tasks": sorted(self.lost_tasks),
        }


def account(expected: Iterable[Expected], evidence: Evidence, grace: float) -> Account:
    result = Account()
    for item in expected:
        result.expected += 1
        verdict = classify(item, evidence, grace)
        if verdict.state == DELIVERED:
            result.delivered += 1
            oks = sum(1 for answer in evidence.answers[item.webhook_id] if answer.ok)
            result.repeated += oks > 1
            result.extra_deliveries += oks - 1
        elif verdict.state == DEAD:
            result.dead += 1
        else:
            bucket = {PENDING: result.pending, STALLED: result.stalled, LOST: result.lost}
            bucket[verdict.state][verdict.where] += 1
            result.undelivered[item.webhook_id] = f"{verdict.state}:{verdict.where}"
            if verdict.spot is not None and len(result.lost_tasks) < LOST_TASKS_KEPT:
                spot = verdict.spot
                result.lost_tasks.append(f"{spot.topic}[{spot.partition}]@{spot.offset}")
        result.normalized_repeats += max(0, len(evidence.normalized.get(item.event_id, ())) - 1)
    return result


def recheck(undelivered: Mapping[str, str], answers: Mapping[str, list[Answer]]) -> dict[str, int]:
    """At the session's end: how many of a round's undelivered events arrived later, and how
    many of its losses are final (still not delivered)."""
    late = {wid for wid in undelivered if any(a.ok for a in answers.get(wid, ()))}
    return {
        "delivered_later": len(late),
        "never_delivered": len(undelivered) - len(late),
        "lost_final": sum(
            1 for wid, v in undelivered.items() if v.startswith(LOST) and wid not in late
        ),
    }
