"""One measured run: meters on, load generator process, drain, meters off, figures.

The session calls `measure` for every run (baselines and pipeline alike), so each figure is taken
the same way: CPU and peak RSS of the named processes over the run and its drain, topic growth,
and a py-spy profile of the processes asked for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.children import Child
from bench.ladder.analysis import ACCEPTED, Sent, delivery_figures, http_figures
from bench.ladder.config import BenchConfig
from bench.ladder.deliveries import Deliveries
from bench.loadgen import LoadSpec
from bench.procstat import Meter
from bench.profiling import Profile, start_profile, summarize_profile
from bench.stats import per_second

Counts = Callable[[], Awaitable[dict[str, int]]]


@dataclass
class Harness:
    """What every run of a session shares."""

    config: BenchConfig
    work: Path
    stamp: str  # names this session's files under the results dir
    deliveries: Deliveries
    began: float = field(default_factory=time.monotonic)
    # run name → the CloudEvent ids its accepted requests carried (pipeline runs), for the
    # session-end check that every accepted event arrived exactly once
    expected: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def remaining(self) -> float:
        return self.config.budget - (time.monotonic() - self.began)


@dataclass(frozen=True)
class Run:
    """A run to measure: the load, the processes to meter, and what else to collect."""

    name: str
    target: str  # "pipeline", "bare_http" or "bare_delivery"
    spec: LoadSpec
    pids: dict[str, int]
    delivers: bool
    counts: Counts | None = None
    profile: dict[str, int] = field(default_factory=dict)  # name → pid to record with py-spy

    def cost(self, config: BenchConfig) -> float:
        """A bound on the seconds this run may take, to keep the session within its budget."""
        return self.spec.duration + (config.drain if self.delivers else 0.0) + 15.0


async def generate(harness: Harness, run: Run) -> Sent:
    spec_path = harness.work / f"{run.name}.spec.json"
    out_path = harness.work / f"{run.name}.sent.json"
    spec_path.write_bytes(run.spec.to_json())
    argv = ["bench.loadgen", str(spec_path), str(out_path)]
    child = Child(f"loadgen-{run.name}", argv, harness.logs).start()
    code = await child.wait(within=run.spec.duration + run.spec.timeout + 60)
    if code != 0:
        raise RuntimeError(f"load generator failed ({code}):\n{child.log_tail()}")
    return Sent(orjson.loads(out_path.read_bytes()))


async def drain(
    harness: Harness, expected: set[str], cap: float | None = None
) -> tuple[str, float]:
    """Wait until every expected event arrived, nothing arrived for `quiet` s, or `cap` s."""
    config, deliveries = harness.config, harness.deliveries
    cap = config.drain if cap is None else cap
    began = last_arrival = time.monotonic()
    while True:
        added = await deliveries.refresh()
        now = time.monotonic()
        if deliveries.delivered(expected) >= len(expected):
            return "complete", round(now - began, 1)
        if added:
            last_arrival = now
        if now - last_arrival >= config.quiet:
            return "quiet", round(now - began, 1)
        if now - began >= cap:
            return "cap", round(now - began, 1)
        await asyncio.sleep(0.5)


# Per 1,000 events of what: the ingress accepts events, everything behind it works on what it
# delivers. In a saturated run the two differ, and the worker's cost is per event delivered.
# The ingress's work for a run is done with its last answer: its CPU window is the load's, not the
# drain's (in which it only follows the attempt log the worker writes, and idles).
PER_ACCEPTED = frozenset({"ingress", "bare_server"})


def _usage(meter: Meter, result: dict[str, Any], delivered: int) -> dict[str, Any]:
    accepted = result.get("events_accepted") or 0
    requests = sum(n for status, n in result["responses"].items() if int(status) in ACCEPTED)
    usage = {}
    for name, used in meter.stop().items():
        events = accepted if name in PER_ACCEPTED else delivered
        usage[name] = {
            "cpu_seconds": used.cpu_seconds,
            "cpu_s_per_1000_events": round(1000 * used.cpu_seconds / events, 3) if events else None,
            "cpu_s_per_1000_requests": (
                round(1000 * used.cpu_seconds / requests, 3) if requests else None
            ),
            "peak_rss_mib": used.peak_rss_mib,
        }
    return usage


def _profiles(harness: Harness, run: Run) -> list[Profile]:
    started = []
    for name, pid in run.profile.items():
        output = harness.config.results_dir / f"{harness.stamp}-profile-{run.name}-{name}.txt"
        profile = start_profile(name, pid, run.spec.duration, output, harness.logs)
        if profile is not None:
            started.append(profile)
    return started


async def measure(harness: Harness, run: Run) -> dict[str, Any]:
    """Run the load, drain, and return every figure of the run."""
    meter = Meter(run.pids)
    before = await run.counts() if run.counts else {}
    meter.start()
    profiles = _profiles(harness, run)
    began = time.monotonic()
    sent = await generate(harness, run)
    meter.end_early(PER_ACCEPTED)
    result: dict[str, Any] = {"name": run.name, "target": run.target}
    result["mode"] = "open-loop" if run.spec.rate else f"closed-loop x{run.spec.concurrency}"
    result.update(http_figures(sent, run.spec.rate, run.spec.duration))
    if run.target == "pipeline":
        harness.expected[run.name] = sent.accepted_events()
        result["ingress_only"] = not run.delivers
    if run.delivers:
        ended, waited = await drain(harness, set(sent.accepted_events()))
        result.update(delivery_figures(sent, harness.deliveries, ended, began))
        result["drain"] = {"ended": ended, "seconds": waited}
    await harness.deliveries.refresh()  # a run without a drain has not read the receiver yet
    arrivals = harness.deliveries.arrivals_between(began, time.monotonic())
    delivered = len(arrivals)
    result["deliveries_in_window"] = delivered
    if run.target == "pipeline":
        result["all_delivered_per_s"] = per_second(arrivals, sent.origin)
    result["processes"] = _usage(meter, result, delivered)
    if run.counts:
        after = await run.counts()
        result["topics"] = {name: after[name] - before.get(name, 0) for name in after}
    summaries: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        path = await asyncio.to_thread(profile.wait, 30.0)
        summary = summarize_profile(path) if path else {"samples": 0}
        summaries[profile.name] = {**summary, "raw": profile.output.name}
    if summaries:
        result["profile"] = summaries
    return result
