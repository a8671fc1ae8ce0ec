"""The kill's moment against the subscriber's log and the topics: deliveries in flight, repeats
at risk and their causes, and how long deliveries took to resume.

Pure. Subscriber, load generator and session times are `time.monotonic()` (one clock for every
process on the machine); Kafka record timestamps are epoch milliseconds, so a fault also carries
its wall-clock kill moment.

In flight at the kill: requests that had arrived at the subscriber but were not answered yet —
exact, from the log. The estimate of deliveries at risk (`at_risk_estimate`) bounds the repeats a
kill can cause:
- every request in flight, when a worker is killed: the subscriber answers it, but the worker never
  learns the outcome, so the task is consumed again after the restart and delivered a second time
  (a killed broker leaves the worker alive to read its answers);
- every 2xx answered in the commit window: from faust's commit interval before the kill
  (`broker_commit_interval`, 2.8 s) — and, for the broker, until it is back, since no commit
  succeeds meanwhile — the task's offset may not be committed and its `delivered` mark (a changelog
  record produced asynchronously) may not have reached Kafka, so the task may be sent again;
- every task routed in that window: the route agent's input is replayed too, so a second task with
  the same webhook-id is written, and both copies are delivered if both pass the `delivered`
  check before either is marked;
- scaled by the share of the work the killed process held: 1 for the single worker and for the
  broker, 1/2 for one of two workers (the expectation when partitions are spread at random), 0
  for the ingress and the poller.
Repeats with other causes — above all a request that timed out at the worker although the
subscriber answered it 2xx — are counted apart (`repeat_causes`), so the two can be compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bench.soak.accounting import Answer, Evidence
from pipeline.contract.topics import Topic

FAUST_COMMIT_INTERVAL = 2.8  # seconds; faust's `broker_commit_interval`, which the app keeps
CAUSES = ("in_flight", "before_kill", "routed_twice", "replayed", "timeout", "other")
KILL_CAUSES = CAUSES[:4]
# The share of the delivery work whose in-flight requests, and whose uncommitted state, a kill
# of each kind loses (kinds not named lose none).
IN_FLIGHT_SHARE = {"worker": 1.0, "worker-of-two": 0.5}
UNCOMMITTED_SHARE = {"worker": 1.0, "worker-of-two": 0.5, "broker": 1.0}


def in_flight_at(answers: Iterable[Answer], moment: float) -> int:
    return sum(1 for answer in answers if answer.arrived <= moment < answer.answered)


def unconcluded_at(
    evidence: Evidence,
    webhook_ids: Iterable[str],
    killed_at: float,
    killed_wall: float,
    *,
    kind: str,
    timeout: float,
) -> int:
    """Deliveries answered 2xx before the kill that the killed worker had not concluded yet: no
    attempt of theirs logged as delivered before the kill (the worker had not read the answer, or
    not yet written its log record and `delivered` mark). In flight from the pipeline's view,
    although no longer open at the subscriber; 0 when no worker was killed. Only a request sent
    less than the delivery `timeout` before the kill counts: an older one had timed out at the
    worker (a retry), not in flight."""
    if kind not in IN_FLIGHT_SHARE:
        return 0
    unconcluded = 0
    for webhook_id in webhook_ids:  # the round's: the subscriber's log holds earlier rounds too
        answers = evidence.answers.get(webhook_id, ())
        first = min((a for a in answers if a.ok), key=_arrival, default=None)
        if first is None or first.answered >= killed_at or first.arrived + timeout <= killed_at:
            continue
        logged = evidence.concluded.get(webhook_id)
        if logged is None or logged >= killed_wall:
            unconcluded += 1
    return unconcluded


def answered_ok_between(answers: Iterable[Answer], begin: float, end: float) -> int:
    return sum(1 for answer in answers if answer.ok and begin <= answer.answered <= end)


def routed_between(evidence: Evidence, begin_wall: float, end_wall: float) -> int:
    """Tasks written to `deliveries` in [begin, end] (epoch seconds)."""
    low, high = begin_wall * 1000, end_wall * 1000
    return sum(
        1
        for spots in evidence.tasks.values()
        for spot in spots
        if spot.topic == Topic.DELIVERIES and low <= spot.timestamp_ms <= high
    )


def at_risk_estimate(
    answers: list[Answer],
    evidence: Evidence,
    killed_at: float,
    killed_wall: float,
    *,
    kind: str,
    outage: float = 0.0,
) -> float:
    """`outage`: seconds after the kill during which no commit can succeed (the broker's)."""
    begin, end = killed_at - FAUST_COMMIT_INTERVAL, killed_at + outage
    in_flight = IN_FLIGHT_SHARE.get(kind, 0.0) * in_flight_at(answers, killed_at)
    uncommitted = answered_ok_between(answers, begin, end)
    rerouted = routed_between(evidence, killed_wall - FAUST_COMMIT_INTERVAL, killed_wall + outage)
    return round(in_flight + UNCOMMITTED_SHARE.get(kind, 0.0) * (uncommitted + rerouted), 1)


def repeat_causes(
    evidence: Evidence, webhook_ids: Iterable[str], killed_at: float, kind: str
) -> dict[str, int]:
    """Each webhook id answered 2xx more than once, by its first cause that applies:
    `in_flight` (its first 2xx was open at the kill), `before_kill` (answered before the kill,
    resent after it), `routed_twice` (two tasks on `deliveries`), `replayed` (one task attempted
    twice: consumed again after a restart or rebalance) — the kill's — then `timeout` (an attempt
    timed out at the worker while the subscriber answered 2xx) and `other`. The moment of the kill
    explains nothing the killed process could not lose (see the shares above)."""
    causes = dict.fromkeys(CAUSES, 0)
    loses_in_flight, loses_commits = kind in IN_FLIGHT_SHARE, kind in UNCOMMITTED_SHARE
    for webhook_id in webhook_ids:
        oks = sorted((a for a in evidence.answers.get(webhook_id, ()) if a.ok), key=_arrival)
        if len(oks) < 2:
            continue
        first = oks[0]
        routed = sum(1 for s in evidence.tasks.get(webhook_id, ()) if s.topic == Topic.DELIVERIES)
        if loses_in_flight and first.arrived <= killed_at < first.answered:
            causes["in_flight"] += 1
        elif loses_commits and first.answered < killed_at:
            causes["before_kill"] += 1
        elif routed > 1:
            causes["routed_twice"] += 1
        elif webhook_id in evidence.replayed:
            causes["replayed"] += 1
        elif webhook_id in evidence.timed_out:
            causes["timeout"] += 1
        else:
            causes["other"] += 1
    return causes


def before_kill_ms(
    evidence: Evidence, webhook_ids: Iterable[str], killed_at: float, kind: str
) -> list[float]:
    """For each repeat whose cause is `before_kill`: how long before the kill (ms) its first 2xx
    was answered, smallest first. Within the worker's loop latency and the producer's next
    request, the worker had not read the answer or its `delivered` mark was not on Kafka yet:
    in flight in all but the subscriber's view."""
    if kind not in UNCOMMITTED_SHARE:
        return []
    gaps = []
    for webhook_id in webhook_ids:
        oks = sorted((a for a in evidence.answers.get(webhook_id, ()) if a.ok), key=_arrival)
        if len(oks) < 2:
            continue
        first = oks[0]
        if kind in IN_FLIGHT_SHARE and first.arrived <= killed_at < first.answered:
            continue  # in flight
        if first.answered < killed_at:
            gaps.append(round((killed_at - first.answered) * 1000, 1))
    return sorted(gaps)


def by_kill(causes: Mapping[str, int]) -> int:
    """The repeats the kill caused (and the restart or rebalance after it)."""
    return sum(causes.get(cause, 0) for cause in KILL_CAUSES)


def _arrival(answer: Answer) -> float:
    return answer.arrived


def resume_after(answers: Iterable[Answer], moment: float) -> float | None:
    """Seconds from `moment` to the first request arriving after it that was answered 2xx."""
    first = min((a.arrived for a in answers if a.ok and a.arrived >= moment), default=None)
    return None if first is None else round(first - moment, 2)


def fresh_resume_after(
    answers: Mapping[str, list[Answer]], accepted_at: Mapping[str, float], moment: float
) -> float | None:
    """Seconds from `moment` to the first 2xx delivery of an event accepted after `moment`:
    the whole path (ingress → worker → subscriber) working again, not a backlog draining."""
    first: float | None = None
    for webhook_id, accepted in accepted_at.items():
        if accepted < moment:
            continue
        for answer in answers.get(webhook_id, ()):
            if answer.ok and (first is None or answer.arrived < first):
                first = answer.arrived
    return None if first is None else round(first - moment, 2)
