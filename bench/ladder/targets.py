"""Issue 25's targets read from one session's results: each with its figure and whether it is met
(None: the session did not measure it).

- the worker in a drain: ≥ 0.7x bare_flow's deliveries/s, ≤ 1.3x its CPU per delivered event,
  ≤ 0.65 CPU-s per 1,000 delivered events (medians of the session's drains, `bench.ladder.flows`);
- the normalize+dedup stage: ≥ 0.8x Quix Streams' records/s at ≤ 1.25x its CPU (the peer stage);
- end to end: ≥ 750 webhooks/s sustained at a fixed rate with p99 < 250 ms;
- at 100 webhooks/s: end-to-end p50 ≤ 15 ms and p99 ≤ 50 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.ladder.report import sustained_runs

SUSTAINED_RATE = 750.0
SUSTAINED_P99_SECONDS = 0.250
LOW_RATE = 100.0
LOW_RATE_P50_SECONDS = 0.015
LOW_RATE_P99_SECONDS = 0.050


@dataclass(frozen=True)
class Target:
    name: str
    figure: str
    met: bool | None


def targets(results: dict[str, Any]) -> list[Target]:
    return [
        *_drain_targets(results.get("flows")),
        _peer_target(results.get("peer")),
        _sustained_target(results),
        _low_rate_target(results),
    ]


def _drain_targets(flows: dict[str, Any] | None) -> list[Target]:
    found = (flows or {}).get("summary", {})
    rate, cpu = found.get("events_per_s_vs_bare"), found.get("cpu_per_event_vs_bare")
    absolute = found.get("worker_cpu_s_per_1000")
    of = f" (median of {found['complete']} drains)" if found.get("complete") else ""
    return [
        Target(
            "worker in a drain ≥ 0.7x bare_flow's deliveries/s",
            f"{rate}x{of}" if rate is not None else "not measured",
            None if rate is None else rate >= 0.7,
        ),
        Target(
            "worker in a drain ≤ 1.3x bare_flow's CPU per delivered event",
            f"{cpu}x{of}" if cpu is not None else "not measured",
            None if cpu is None else cpu <= 1.3,
        ),
        Target(
            "worker in a drain ≤ 0.65 CPU-s per 1,000 delivered events",
            f"{absolute}{of}" if absolute is not None else "not measured",
            None if absolute is None else absolute <= 0.65,
        ),
    ]


def _peer_target(peer: dict[str, Any] | None) -> Target:
    versus = (peer or {}).get("ratios", {}).get("pipeline_vs_quix", {})
    rate, cpu = versus.get("records_per_s"), versus.get("cpu_per_record")
    figure = f"{rate}x records/s, {cpu}x CPU" if rate is not None else "not measured"
    return Target(
        "normalize+dedup ≥ 0.8x Quix Streams' records/s at ≤ 1.25x its CPU",
        figure,
        versus.get("meets_target"),
    )


def _sustained_target(results: dict[str, Any]) -> Target:
    """The highest fixed rate sustained (`sustained_runs`) with end-to-end p99 under 250 ms."""
    fitting = [
        run
        for run in sustained_runs(results)
        if run["end_to_end_s"]["p99"] is not None
        and run["end_to_end_s"]["p99"] < SUSTAINED_P99_SECONDS
    ]
    best = max(fitting, key=lambda run: run["offered_rate"], default=None)
    figure = (
        f"{best['offered_rate']:g}/s (p99 {best['end_to_end_s']['p99'] * 1000:.0f} ms)"
        if best
        else "none"
    )
    measured = any(run["offered_rate"] >= SUSTAINED_RATE for run in _fixed_runs(results))
    met = best is not None and best["offered_rate"] >= SUSTAINED_RATE
    return Target(
        "≥ 750 webhooks/s sustained with end-to-end p99 < 250 ms",
        figure,
        met if measured or met else None,
    )


def _low_rate_target(results: dict[str, Any]) -> Target:
    run = next((r for r in _fixed_runs(results) if r["offered_rate"] == LOW_RATE), None)
    if run is None:
        return Target("100 webhooks/s: p50 ≤ 15 ms, p99 ≤ 50 ms", "not measured", None)
    p50, p99 = run["end_to_end_s"]["p50"], run["end_to_end_s"]["p99"]
    if p50 is None or p99 is None:
        return Target("100 webhooks/s: p50 ≤ 15 ms, p99 ≤ 50 ms", "nothing delivered", False)
    return Target(
        "100 webhooks/s: p50 ≤ 15 ms, p99 ≤ 50 ms",
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
        p50 <= LOW_RATE_P50_SECONDS and p99 <= LOW_RATE_P99_SECONDS,
    )


def _fixed_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        run
        for run in results["runs"]
        if run["target"] == "pipeline" and run["offered_rate"] and not run["ingress_only"]
    ]


def target_lines(results: dict[str, Any]) -> list[str]:
    """The targets as a Markdown table."""
    verdicts = {True: "yes", False: "**no**", None: "not measured"}
    lines = ["| target (issue 25) | this session | met |", "|---|---|---|"]
    lines += [f"| {t.name} | {t.figure} | {verdicts[t.met]} |" for t in targets(results)]
    return lines
