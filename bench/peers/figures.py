"""The peer runs' figures, medians, ratios and Markdown table (pure: no broker, no processes).

One run is what `bench/peers/measure.py` observed of one runner draining the backlog: the
runner's CPU sampled over time and every record it wrote (timestamp, event id). Its rate is
the backlog's input records over the time from its first output record to its last (the records'
own timestamps); its CPU is taken over the same window. A run that did not write exactly the
expected events, or did not commit the whole backlog, is marked failed and left out of the
medians.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

RUNNERS = ("pipeline", "quix", "bare")
LABELS = {"pipeline": "pipeline worker", "quix": "Quix Streams", "bare": "bare aiokafka loop"}
# The issue's target: the pipeline's stage against Quix Streams'.
TARGET_RATE_RATIO = 0.8  # at least this share of Quix's records/s
TARGET_CPU_RATIO = 1.25  # at most this multiple of Quix's CPU per record

Sample = tuple[float, float]  # (wall-clock seconds, the runner's CPU seconds)
Output = tuple[float, str]  # (the record's timestamp in seconds, its CloudEvent id)


@dataclass
class Observed:
    """What the parent saw of one run."""

    started: float  # wall-clock seconds when the runner's process started
    ended: str  # "complete", "deadline" or "exited"
    committed: bool  # the runner's group committed the backlog's end offsets
    samples: list[Sample] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)


def cpu_at(samples: list[Sample], moment: float) -> float:
    """The CPU seconds at `moment`, interpolated between samples (clamped to the first/last)."""
    if not samples:
        return 0.0
    times = [time for time, _ in samples]
    index = bisect_left(times, moment)
    if index == 0:
        return samples[0][1]
    if index == len(samples):
        return samples[-1][1]
    (t0, c0), (t1, c1) = samples[index - 1], samples[index]
    return c0 + (c1 - c0) * (moment - t0) / (t1 - t0) if t1 > t0 else c1


def all_committed(ends: dict[Any, int], committed: dict[Any, int]) -> bool:
    """Whether a group's committed offsets reach the end of every partition of the backlog. An
    empty partition needs none: faust and Quix commit nothing where they read nothing."""
    return all(end == 0 or committed.get(tp, -1) >= end for tp, end in ends.items())


def failures(observed: Observed, expected: frozenset[str]) -> list[str]:
    ids = [event_id for _, event_id in observed.outputs]
    found = []
    if observed.ended != "complete":
        found.append(f"ended: {observed.ended}")
    if len(ids) != len(expected):
        found.append(f"{len(ids)} events written, {len(expected)} expected")
    distinct = set(ids)
    if distinct != expected:
        found.append(f"{len(expected - distinct)} missing, {len(distinct - expected)} unexpected")
    if not observed.committed:
        found.append("offsets not committed to the end of the backlog")
    return found


def run_figures(
    runner: str, repeat: int, records: int, expected: frozenset[str], observed: Observed
) -> dict[str, Any]:
    """One run's figures; rate and CPU are None for a failed run (never reported as figures)."""
    problems = failures(observed, expected)
    times = sorted(moment for moment, _ in observed.outputs)
    figures: dict[str, Any] = {
        "runner": runner,
        "repeat": repeat,
        "ok": not problems,
        "failures": problems,
        "input_records": records,
        "events_expected": len(expected),
        "events_written": len(times),
        "records_per_s": None,
        "events_per_s": None,
        "cpu_s_per_1000_records": None,
    }
    if not times:
        return figures
    first, last = times[0], times[-1]
    span = max(last - first, 1e-3)
    cpu = cpu_at(observed.samples, last) - cpu_at(observed.samples, first)
    figures |= {
        "start_to_first_output_s": round(first - observed.started, 2),
        "first_to_last_output_s": round(span, 3),
        "cpu_s_before_first_output": round(cpu_at(observed.samples, first), 2),
        "cpu_s_first_to_last_output": round(cpu, 3),
    }
    if not problems:
        figures |= {
            "records_per_s": round(records / span, 1),
            "events_per_s": round(len(times) / span, 1),
            "cpu_s_per_1000_records": round(1000 * cpu / records, 3),
        }
    return figures


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run["ok"]]
    return round(statistics.median(values), 3) if values else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per runner: runs, failed runs, and the medians of the successful runs' figures."""
    summary = {}
    for runner in RUNNERS:
        mine = [run for run in runs if run["runner"] == runner]
        if not mine:
            continue
        summary[runner] = {
            "runs": len(mine),
            "failed": sum(not run["ok"] for run in mine),
            "records_per_s": _median(mine, "records_per_s"),
            "events_per_s": _median(mine, "events_per_s"),
            "cpu_s_per_1000_records": _median(mine, "cpu_s_per_1000_records"),
        }
    return summary


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pipeline's medians over each peer's: records/s (higher is better) and CPU per record
    (lower is better); against Quix, whether the issue's target is met (None: not measured)."""
    mine = summary.get("pipeline", {})
    found = {}
    for peer in RUNNERS[1:]:
        theirs = summary.get(peer, {})
        rate = _ratio(mine.get("records_per_s"), theirs.get("records_per_s"))
        cpu = _ratio(mine.get("cpu_s_per_1000_records"), theirs.get("cpu_s_per_1000_records"))
        found[f"pipeline_vs_{peer}"] = {"records_per_s": rate, "cpu_per_record": cpu}
    versus_quix = found["pipeline_vs_quix"]
    rate, cpu = versus_quix["records_per_s"], versus_quix["cpu_per_record"]
    met = (
        None
        if rate is None or cpu is None
        else rate >= TARGET_RATE_RATIO and cpu <= TARGET_CPU_RATIO
    )
    versus_quix["meets_target"] = met
    return found


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def peer_lines(peer: dict[str, Any] | None) -> list[str]:
    """The peer comparison as Markdown: one row per runner, the pipeline's ratios, the target."""
    if not peer:
        return []
    summary, found = peer["summary"], peer["ratios"]
    lines = [
        f"Normalize+dedup stage on one backlog ({peer['input_records']:,} `webhooks.raw` records, "
        f"{peer['events_expected']:,} distinct events); records/s over first to last output, "
        "medians of the successful runs:",
        "",
        "| runner | runs ok / all | records/s | events/s | CPU-s per 1,000 records "
        "| pipeline ÷ runner: records/s | pipeline ÷ runner: CPU per record |",
        "|---|---|---|---|---|---|---|",
    ]
    for runner, figures in summary.items():
        versus = found.get(f"pipeline_vs_{runner}", {})
        lines.append(
            f"| {LABELS[runner]} | {figures['runs'] - figures['failed']} / {figures['runs']} "
            f"| {_num(figures['records_per_s'])} | {_num(figures['events_per_s'])} "
            f"| {_num(figures['cpu_s_per_1000_records'], 2)} "
            f"| {_num(versus.get('records_per_s'), 2)} | {_num(versus.get('cpu_per_record'), 2)} |"
        )
    met = found.get("pipeline_vs_quix", {}).get("meets_target")
    verdict = {True: "met", False: "not met", None: "not measured"}[met]
    lines.append(
        f"- target, pipeline vs Quix Streams (≥ {TARGET_RATE_RATIO}x records/s, "
        f"≤ {TARGET_CPU_RATIO}x CPU per record): {verdict}"
    )
    return lines
