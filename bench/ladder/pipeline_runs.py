"""The pipeline's runs: warm-up, the fixed-rate ladder, and the maximum-throughput run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.broker import topic_counts
from bench.ladder.analysis import loss_figures
from bench.ladder.baselines import load_spec
from bench.ladder.runs import Harness, Run, drain, generate
from bench.loadgen import LoadSpec
from bench.payloads import Instances
from bench.stack import Stack

WARM_UP_RATE = 50.0
WARM_UP_SECONDS = 4.0
WARM_UP_DEADLINE = 120.0


async def warm_up(harness: Harness, stack: Stack, instances: Instances) -> None:
    """A little traffic until it is delivered: agents assigned, connections open, caches warm.

    Without a worker (an ingress-only session) it is enough that the ingress accepted some.
    """
    spec = load_spec(
        harness,
        stack.base_url,
        "webhooks",
        WARM_UP_RATE,
        duration=WARM_UP_SECONDS,
        instances=instances,
    )
    run = Run("warm-up", "pipeline", spec, {}, delivers=True)
    sent = await generate(harness, run)
    harness.expected[run.name] = sent.accepted_events()
    expected = set(harness.expected[run.name])
    if not expected:
        raise RuntimeError(f"the ingress accepted no warm-up webhook:\n{stack.ingress.log_tail()}")
    if stack.worker is None:
        return
    deadline = time.monotonic() + WARM_UP_DEADLINE
    while time.monotonic() < deadline:
        ended, _ = await drain(harness, expected)
        if ended == "complete":
            return
    missing = len(expected) - harness.deliveries.delivered(expected)
    raise RuntimeError(f"{missing} warm-up events never arrived:\n{stack.worker.log_tail()}")


def _pids(stack: Stack) -> dict[str, int]:
    """The pipeline's own processes (an ingress-only session has no worker)."""
    pids = {"ingress": stack.ingress.pid}
    if stack.worker is not None:
        pids["worker"] = stack.worker.pid
    return pids


@dataclass
class Ladder:
    """Builds the pipeline's runs; after a saturated rate, the higher ones are ingress-only."""

    harness: Harness
    stack: Stack
    instances: Instances
    broker_pid: int
    receiver_pid: int
    saturated_at: float | None = None

    def _spec(self, rate: float | None, duration: float) -> LoadSpec:
        return load_spec(
            self.harness,
            self.stack.base_url,
            "webhooks",
            rate,
            duration=duration,
            instances=self.instances,
        )

    def _run(
        self, name: str, spec: LoadSpec, profile: dict[str, int], *, delivers: bool = True
    ) -> Run:
        async def counts() -> dict[str, int]:
            return await topic_counts(self.stack.settings)

        pids = {**_pids(self.stack), "broker": self.broker_pid, "receiver": self.receiver_pid}
        return Run(name, "pipeline", spec, pids, delivers, counts=counts, profile=profile)

    def run_for(self, rate: float) -> Run:
        """The full run at `rate`, or after saturation a short ingress-only one.

        Once a run is still delivering at the drain cap, the worker has a backlog that higher
        rates only grow: their end-to-end figures would measure the backlog, not the rate. The
        ingress's own figures at those rates still compare with the bare-HTTP baseline's.
        """
        config = self.harness.config
        if self.saturated_at is None:
            return self._run(f"pipeline-r{rate:g}", self._spec(rate, config.duration), {})
        spec = self._spec(rate, config.baseline_duration)
        return self._run(f"pipeline-r{rate:g}-ingress", spec, {}, delivers=False)

    def observe(self, result: dict[str, Any]) -> None:
        if result.get("drain", {}).get("ended") == "cap" and self.saturated_at is None:
            self.saturated_at = result["offered_rate"]

    def max_run(self, earlier: list[dict[str, Any]]) -> Run:
        config = self.harness.config
        return self._run(
            "pipeline-max", self._spec(None, config.max_duration), self._targets(earlier)
        )

    def _targets(self, earlier: list[dict[str, Any]]) -> dict[str, int]:
        """Which processes py-spy records: as asked, or ("auto") the busiest in CPU seconds.

        The busiest is taken from the last run that delivered (not an ingress-only one).
        """
        pids = _pids(self.stack)
        choice = self.harness.config.profile
        if choice == "none":
            return {}
        if choice == "both":
            return pids
        if choice in pids:
            return {choice: pids[choice]}
        ladder = [r for r in earlier if r["target"] == "pipeline" and not r["ingress_only"]]
        if not ladder:
            return {"worker": pids["worker"]}
        usage = ladder[-1]["processes"]
        busiest = max(pids, key=lambda name: usage[name]["cpu_seconds"])
        return {busiest: pids[busiest]}


async def final_check(harness: Harness, results: dict[str, Any], reserve: float) -> dict[str, Any]:
    """After the last run: wait (within the budget) for every accepted event, then count.

    Each pipeline run gains `final`: its events delivered, lost (only when the wait ended with
    everything delivered or with nothing arriving any more) or still pending, and duplicates.
    """
    everything: dict[str, float] = {}
    for expected in harness.expected.values():
        everything.update(expected)
    began = time.monotonic()
    ended, waited = await drain(
        harness, set(everything), cap=max(0.0, harness.remaining() - reserve)
    )
    arrived = harness.deliveries.arrived_between(began, time.monotonic())
    ended = "budget" if ended == "cap" else ended
    for run in results["runs"]:
        if run["name"] in harness.expected:
            run["final"] = loss_figures(harness.expected[run["name"]], harness.deliveries, ended)
    return {
        # with no load to generate or accept, the worker has the machine (nearly) to itself
        "drain": {"ended": ended, "seconds": waited, "deliveries_per_s": _per_s(arrived, waited)},
        "events_accepted": len(everything),
        **loss_figures(everything, harness.deliveries, ended),
    }


def _per_s(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None
