"""The session's worker against `bare_flow` (issue 25), after the ladder: one backlog per drain,
drained by the worker and then by bare_flow (`bench.drains.worker_drain.drain`, the same as
`python -m bench drain --with-bare`), on the session's broker with the session's ingress and
worker stopped. The medians of the drains' ratios are the figures the targets read
(`bench.ladder.targets`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench.drains.worker_drain import FLOWS, drain

DRAIN_DEADLINE_SECONDS = 180.0
# A backlog of 8,000 webhooks took 40-45 s to post and drain twice on the 2-core machine.
SECONDS_PER_DRAIN = 20.0
SECONDS_PER_WEBHOOK = 0.005


def estimated_seconds(drains: int, webhooks: int) -> float:
    return drains * (SECONDS_PER_DRAIN + SECONDS_PER_WEBHOOK * webhooks)


async def run_flows(
    bootstrap: str,
    *,
    drains: int,
    webhooks: int,
    env: dict[str, str],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every drain's figures, and the medians the targets read."""
    runs = []
    for number in range(1, drains + 1):
        drained = await drain(webhooks, DRAIN_DEADLINE_SECONDS, env, bootstrap, 0.0, flows=FLOWS)
        runs.append(drained)
        worker, bare = drained["flows"]["worker"], drained["flows"]["bare"]
        log(
            f"drain {number}/{drains}: worker {worker['events_per_s']} events/s at "
            f"{worker['worker_cpu_s_per_1000']} CPU-s per 1,000, bare_flow {bare['events_per_s']}"
            f" at {bare['worker_cpu_s_per_1000']}; ratios {drained['ratios']}"
        )
    return {"webhooks": webhooks, "drains": runs, "summary": summary(runs)}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the complete drains (every event delivered by both flows)."""
    complete = [run for run in runs if all(_complete(run["flows"][flow]) for flow in FLOWS)]

    def median(values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return round(statistics.median(known), 3) if known else None

    return {
        "complete": len(complete),
        "of": len(runs),
        "events_per_s_vs_bare": median([run["ratios"]["events_per_s"] for run in complete]),
        "cpu_per_event_vs_bare": median([run["ratios"]["cpu_s_per_1000"] for run in complete]),
        "worker_cpu_s_per_1000": median(
            [run["flows"]["worker"]["worker_cpu_s_per_1000"] for run in complete]
        ),
        "bare_cpu_s_per_1000": median(
            [run["flows"]["bare"]["worker_cpu_s_per_1000"] for run in complete]
        ),
    }


def _complete(figures: dict[str, Any]) -> bool:
    return bool(figures["events_delivered"] == figures["events_expected"])
