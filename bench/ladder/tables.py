"""Markdown tables of one session's results (printed, saved beside the JSON, for BENCHMARKS.md)."""

from __future__ import annotations

from typing import Any

from bench.ladder.report import PROCESSES, ratios, sustained_rate
from bench.ladder.targets import target_lines
from bench.peers.figures import peer_lines
from pipeline.contract.topics import Topic


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _latency(summary: dict[str, Any], shares: tuple[str, ...]) -> str:
    return " / ".join(_ms(summary.get(share)) for share in shares)


def _failed(run: dict[str, Any]) -> int:
    return sum(n for status, n in run["responses"].items() if not status.startswith("2"))


def _loss(run: dict[str, Any]) -> tuple[str, str]:
    """(lost, duplicate deliveries) as of the session-end check, else the run's own drain."""
    figures = run.get("final") or run
    if "lost" not in figures:
        return "-", "-"
    lost = figures["lost"] if figures["lost"] is not None else f"({figures['pending']} pending)"
    return str(lost), str(figures["duplicate_deliveries"])


def pipeline_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| run | offered webhooks/s | achieved/s | non-2xx | ingress p50/p95/p99 ms "
        "| end-to-end p50/p95/p99/max ms | delivered / accepted events (at drain end) "
        "| run's events delivered/s | all deliveries/s | lost | dup deliveries | invalid "
        "| CPU s per 1k events ingress/worker/broker | peak RSS MiB ingress/worker/broker |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        if run["target"] != "pipeline":
            continue
        processes = run["processes"]
        cpu = " / ".join(
            _num(processes.get(p, {}).get("cpu_s_per_1000_events"), 2) for p in PROCESSES
        )
        rss = " / ".join(_num(processes.get(p, {}).get("peak_rss_mib")) for p in PROCESSES)
        final = run.get("final") or run
        invalid = run["topics"].get(Topic.EVENTS_INVALID, 0) + final.get("invalid_signatures", 0)
        lost, duplicates = _loss(run)
        offered = _num(run["offered_rate"]) if run["offered_rate"] else run["mode"]
        if run["ingress_only"]:
            why = "no worker" if results["config"].get("ingress_only") else "worker saturated"
            e2e, delivered, rates = f"not measured ({why})", "-", "- | -"
        else:
            e2e = _latency(run["end_to_end_s"], ("p50", "p95", "p99", "max"))
            delivered = f"{run['events_delivered']:,} / {run['events_accepted']:,}"
            rates = f"{_num(run['delivered_rate'])} | {_num(run['receiver_rate'])}"
        lines.append(
            f"| {run['name']} | {offered} | {_num(run['achieved_rate'])} | {_failed(run)} "
            f"| {_latency(run['latency_s'], ('p50', 'p95', 'p99'))} | {e2e} | {delivered} "
            f"| {rates} | {lost} | {duplicates} | {invalid} | {cpu} | {rss} |"
        )
    return lines if len(lines) > 2 else []


def final_lines(results: dict[str, Any]) -> list[str]:
    final = results.get("final")
    if not final:
        return []
    lost = final["lost"] if final["lost"] is not None else f"unknown ({final['pending']} pending)"
    return [
        f"- session end ({final['drain']['ended']} after {final['drain']['seconds']} s more, "
        f"{_num(final['drain']['deliveries_per_s'])} deliveries/s without load): "
        f"{final['events_delivered']:,} of {final['events_accepted']:,} accepted events "
        f"delivered; lost {lost}; duplicate deliveries {final['duplicate_deliveries']}; "
        f"bad signatures {final['invalid_signatures']}"
    ]


def baseline_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| baseline run | offered/s | achieved/s | latency p50/p95/p99 ms "
        "| CPU s per 1k requests |",
        "|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        if run["target"] in ("pipeline", "ingress"):
            continue
        [usage] = run["processes"].values()
        latency = run["end_to_end_s"] if "end_to_end_s" in run else run["latency_s"]
        offered = _num(run["offered_rate"]) if run["offered_rate"] else run["mode"]
        lines.append(
            f"| {run['name']} | {offered} | {_num(run['achieved_rate'])} "
            f"| {_latency(latency, ('p50', 'p95', 'p99'))} "
            f"| {_num(usage['cpu_s_per_1000_requests'], 3)} |"
        )
    for label, loop in results.get("kafka_loop", {}).items():
        offered = _num(loop["rate_offered"]) if loop["rate_offered"] else "max"
        lines.append(
            f"| kafka_loop-{label} | {offered} | {_num(loop['throughput_per_s'])} "
            f"| {_latency(loop['end_to_end_seconds'], ('p50', 'p95', 'p99'))} "
            f"| {_num(loop['cpu_seconds_per_1000'], 3)} |"
        )
    return lines


def ingress_table(results: dict[str, Any]) -> list[str]:
    """The ingress alone (no worker on its topics), each run beside the bare aiohttp one."""
    runs = {run["name"]: run for run in results["runs"]}
    lines = [
        "| ingress alone | offered/s | achieved/s | non-2xx | latency p50/p95/p99 ms "
        "| CPU s per 1k requests ingress / broker | bare aiohttp achieved/s, p99 ms, CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        if run["target"] != "ingress":
            continue
        bare = runs.get("bare_http-" + run["name"].removeprefix("ingress-"))
        processes = run["processes"]
        cpu = " / ".join(
            _num(processes.get(p, {}).get("cpu_s_per_1000_requests"), 3)
            for p in ("ingress", "broker")
        )
        beside = "-"
        if bare:
            usage = bare["processes"]["bare_server"]["cpu_s_per_1000_requests"]
            beside = (
                f"{_num(bare['achieved_rate'])}, {_ms(bare['latency_s']['p99'])}, {_num(usage, 3)}"
            )
        offered = _num(run["offered_rate"]) if run["offered_rate"] else run["mode"]
        lines.append(
            f"| {run['name']} | {offered} | {_num(run['achieved_rate'])} | {_failed(run)} "
            f"| {_latency(run['latency_s'], ('p50', 'p95', 'p99'))} | {cpu} | {beside} |"
        )
    return lines if len(lines) > 2 else []


def ratio_lines(results: dict[str, Any]) -> list[str]:
    found = ratios(results)
    lines = [
        *final_lines(results),
        f"- highest sustained fixed rate: {_num(sustained_rate(results))} webhooks/s",
    ]
    for key, value in found.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v}" for k, v in value.items())
            if inner:
                lines.append(f"- at {key}: {inner}")
        else:
            lines.append(f"- {key}: {value}")
    return lines


def profile_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for run in results["runs"]:
        for process, summary in run.get("profile", {}).items():
            if not summary.get("samples"):
                continue
            lines.append(f"py-spy, {process} during {run['name']} ({summary['samples']} samples):")
            for kind in ("packages", "self", "inclusive"):
                top = ", ".join(f"{e['name']} {e['share']:.0%}" for e in summary[kind][:8])
                lines.append(f"- {kind}: {top}")
    return lines


def flow_lines(found: dict[str, Any] | None) -> list[str]:
    """The worker against bare_flow, a row per drain (`bench.ladder.flows`)."""
    if not found:
        return []
    lines = [
        f"The worker against bare_flow, each draining the same backlog of {found['webhooks']:,} "
        "webhooks:",
        "",
        "| drain | worker events/s | bare_flow events/s | worker CPU-s per 1,000 "
        "| bare_flow CPU-s per 1,000 | x deliveries/s | x CPU per event |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, run in enumerate(found["drains"], start=1):
        worker, bare, ratio = run["flows"]["worker"], run["flows"]["bare"], run["ratios"]
        lines.append(
            f"| {number} | {_num(worker['events_per_s'])} | {_num(bare['events_per_s'])} "
            f"| {_num(worker['worker_cpu_s_per_1000'], 3)} "
            f"| {_num(bare['worker_cpu_s_per_1000'], 3)} "
            f"| {_num(ratio['events_per_s'], 3)} | {_num(ratio['cpu_s_per_1000'], 3)} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    sections = [
        target_lines(results),
        pipeline_table(results),
        ingress_table(results),
        baseline_table(results),
        ratio_lines(results),
        profile_lines(results),
        flow_lines(results.get("flows")),
        peer_lines(results.get("peer")),
        [f"- skipped {s['name']}: {s['reason']}" for s in results["skipped"]],
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


def summary_line(result: dict[str, Any]) -> str:
    """A console summary of one run."""
    latency = result["latency_s"]
    text = (
        f"{result['name']}: offered {result['offered_rate'] or 'max'}/s, "
        f"achieved {result['achieved_rate']}/s, http p50 {_ms(latency['p50'])} "
        f"p99 {_ms(latency['p99'])} ms"
    )
    for name in ("ingress", "bare_server"):
        usage = result.get("processes", {}).get(name)
        if usage:
            text += f", {name} CPU {_num(usage['cpu_s_per_1000_requests'], 3)} s/1k requests"
    if "end_to_end_s" in result:
        e2e = result["end_to_end_s"]
        text += (
            f", delivered {result['events_delivered']}/{result['events_accepted']} "
            f"at {result['delivered_rate']}/s, e2e p50 {_ms(e2e['p50'])} p99 {_ms(e2e['p99'])} ms, "
            f"lost {result['lost']}, pending {result['pending']}, "
            f"dup {result['duplicate_deliveries']}, receiver {result['receiver_rate']}/s, "
            f"drain {result['drain']['ended']} {result['drain']['seconds']}s"
        )
    return text
