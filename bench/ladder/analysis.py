"""One run's figures from the load generator's record and the receiver's deliveries."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.ladder.deliveries import Deliveries
from bench.stats import per_second, summarize

ACCEPTED = range(200, 300)


@dataclass(frozen=True)
class Sent:
    """The load generator's output for one run."""

    record: dict[str, Any]

    @property
    def origin(self) -> float:
        return min(self.record["due"]) if self.record["due"] else 0.0

    def accepted_events(self) -> dict[str, float]:
        """CloudEvent id → due time of the first accepted request carrying it."""
        first: dict[str, float] = {}
        columns = zip(
            self.record["due"], self.record["status"], self.record["event_ids"], strict=True
        )
        for due, status, event_ids in columns:
            if status in ACCEPTED:
                for event_id in event_ids:
                    if event_id not in first or due < first[event_id]:
                        first[event_id] = due
        return first


def http_figures(sent: Sent, rate: float | None, duration: float) -> dict[str, Any]:
    """Offered and achieved rate, answers by status, latency from the due time."""
    record = sent.record
    statuses = Counter(str(status) for status in record["status"])
    answered = [
        finished - due
        for due, finished, status in zip(
            record["due"], record["finished"], record["status"], strict=True
        )
        if status != 0
    ]
    accepted = sum(1 for status in record["status"] if status in ACCEPTED)
    span = (max(record["finished"]) - sent.origin) if record["finished"] else 0.0
    return {
        "offered_rate": rate,
        "duration_s": duration,
        "requests": len(record["status"]),
        "duplicates_sent": sum(record["duplicate"]),
        "responses": dict(sorted(statuses.items())),
        "achieved_rate": round(accepted / span, 1) if span else 0.0,
        "events_accepted": len(sent.accepted_events()),
        "latency_s": summarize(answered),
        "generator_lag_s": summarize(
            started - due for due, started in zip(record["due"], record["started"], strict=True)
        ),
        "accepted_per_s": per_second(
            (f for f, s in zip(record["finished"], record["status"], strict=True) if s in ACCEPTED),
            sent.origin,
        ),
    }


def loss_figures(
    expected: dict[str, float], deliveries: Deliveries, drain_ended: str
) -> dict[str, Any]:
    """Delivered, lost or pending, duplicate and badly signed deliveries of `expected` events.

    `drain_ended` is how waiting for deliveries ended: "complete", "quiet" (nothing arrived for a
    while: what is missing is lost) or "cap"/"budget" (still arriving: what is missing is pending).
    """
    delivered = duplicates = unsigned = 0
    for event_id in expected:
        got = deliveries.by_event.get(event_id)
        if not got:
            continue
        delivered += 1
        per_webhook = Counter(delivery.webhook_id for delivery in got)
        duplicates += sum(count - 1 for count in per_webhook.values())
        unsigned += sum(1 for delivery in got if not delivery.signed)
    missing = len(expected) - delivered
    settled = drain_ended in {"complete", "quiet"}
    return {
        "events_delivered": delivered,
        "lost": missing if settled else None,
        "pending": 0 if settled else missing,
        "duplicate_deliveries": duplicates,
        "invalid_signatures": unsigned,
    }


def delivery_figures(
    sent: Sent, deliveries: Deliveries, drain_ended: str, began: float
) -> dict[str, Any]:
    """End-to-end latency (first arrival minus first due time), loss, duplicates and rates."""
    expected = sent.accepted_events()
    latencies: list[float] = []
    arrivals: list[float] = []
    for event_id, due in expected.items():
        got = deliveries.by_event.get(event_id)
        if got:
            latencies.append(min(delivery.arrived for delivery in got) - due)
            arrivals.extend(delivery.arrived for delivery in got)
    span = (max(arrivals) - sent.origin) if arrivals else 0.0
    now = time.monotonic()
    return {
        **loss_figures(expected, deliveries, drain_ended),
        "delivered_rate": round(len(latencies) / span, 1) if span else 0.0,
        "receiver_rate": round(deliveries.arrived_between(began, now) / (now - began), 1),
        "end_to_end_s": summarize(latencies),
        "delivered_per_s": per_second(arrivals, sent.origin),
    }
