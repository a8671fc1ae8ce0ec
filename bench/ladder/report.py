"""The results file, the ratios to the baselines, and the Markdown tables of BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

PROCESSES = ("ingress", "worker", "broker")


def _by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["name"]: run for run in results["runs"]}


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def _label(rate: float | None) -> str:
    return f"r{rate:g}" if rate else "max"


def sustained_rate(results: dict[str, Any]) -> float | None:
    """The highest fixed rate with every event delivered and deliveries keeping pace (≥ 95 %)."""
    return max((run["offered_rate"] for run in sustained_runs(results)), default=None)


def sustained_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The fixed-rate pipeline runs with every event delivered and deliveries keeping pace."""
    sustained = []
    for run in results["runs"]:
        if run["target"] != "pipeline" or not run["offered_rate"] or run["ingress_only"]:
            continue
        kept_pace = run["delivered_rate"] >= 0.95 * run["achieved_rate"] * _events_per_request(run)
        if run["drain"]["ended"] == "complete" and kept_pace:
            sustained.append(run)
    return sustained


def _events_per_request(run: dict[str, Any]) -> float:
    """Distinct events per accepted request, resends included: `achieved_rate` counts resends
    too, so dividing by the originals only asked 10 % more deliveries than there were events
    (no run had ever counted as sustained)."""
    accepted = sum(n for status, n in run["responses"].items() if status.startswith("2"))
    return run["events_accepted"] / accepted if accepted > 0 else 1.0


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Pipeline figures divided by the same-session baselines' (throughput: higher is better)."""
    runs = _by_name(results)
    loop = results.get("kafka_loop", {})
    found: dict[str, Any] = {}
    pipeline_max, http_max = runs.get("pipeline-max"), runs.get("bare_http-max")
    delivery_max = runs.get("bare_delivery-max")
    if pipeline_max and http_max:
        found["ingress_max_rate_vs_bare_http"] = _ratio(
            pipeline_max["achieved_rate"], http_max["achieved_rate"]
        )
    # During and after the maximum run the worker delivers as fast as it can (backlog included):
    # what reaches the receiver per second is the pipeline's end-to-end throughput.
    if pipeline_max and delivery_max:
        found["deliveries_per_s_max_vs_bare_delivery"] = _ratio(
            pipeline_max["receiver_rate"], delivery_max["delivered_rate"]
        )
    if pipeline_max and "max" in loop:
        found["deliveries_per_s_max_vs_kafka_loop"] = _ratio(
            pipeline_max["receiver_rate"], loop["max"]["throughput_per_s"]
        )
    alone_max = runs.get("ingress-max")
    if alone_max and http_max:
        found["ingress_alone_max_rate_vs_bare_http"] = _ratio(
            alone_max["achieved_rate"], http_max["achieved_rate"]
        )
    for rate in results["config"]["rates"]:
        found[_label(rate)] = {**_alone_ratios(runs, rate), **_rate_ratios(runs, loop, rate)}
    return found


def _alone_ratios(runs: dict[str, Any], rate: float) -> dict[str, Any]:
    """The ingress alone (no worker beside it) against bare aiohttp at the same rate."""
    label = _label(rate)
    alone, http = runs.get(f"ingress-{label}"), runs.get(f"bare_http-{label}")
    if not alone or not http:
        return {}
    found = {
        f"ingress_alone_{share}_vs_bare_http": _ratio(
            alone["latency_s"][share], http["latency_s"][share]
        )
        for share in ("p50", "p99")
    }
    found["ingress_alone_cpu_per_request_vs_bare_http"] = _ratio(
        alone["processes"]["ingress"]["cpu_s_per_1000_requests"],
        http["processes"]["bare_server"]["cpu_s_per_1000_requests"],
    )
    return found


def _rate_ratios(runs: dict[str, Any], loop: dict[str, Any], rate: float) -> dict[str, Any]:
    label = _label(rate)
    pipeline = runs.get(f"pipeline-{label}") or runs.get(f"pipeline-{label}-ingress")
    http, delivery = runs.get(f"bare_http-{label}"), runs.get(f"bare_delivery-{label}")
    if not pipeline:
        return {}
    found: dict[str, Any] = {}
    delivers = not pipeline["ingress_only"]
    for share in ("p50", "p99"):
        if http:
            found[f"ingress_{share}_vs_bare_http"] = _ratio(
                pipeline["latency_s"][share], http["latency_s"][share]
            )
        if delivery and delivers:
            found[f"end_to_end_{share}_vs_bare_delivery"] = _ratio(
                pipeline["end_to_end_s"][share], delivery["end_to_end_s"][share]
            )
        if rate == 1000 and "r1000" in loop and delivers:
            found[f"end_to_end_{share}_vs_kafka_loop"] = _ratio(
                pipeline["end_to_end_s"][share], loop["r1000"]["end_to_end_seconds"][share]
            )
    if http:
        found["ingress_cpu_per_request_vs_bare_http"] = _ratio(
            pipeline["processes"]["ingress"]["cpu_s_per_1000_requests"],
            http["processes"]["bare_server"]["cpu_s_per_1000_requests"],
        )
    return found


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
