"""A soak session's output: the terminal table, the verdict (exit code), the JSON file and a
markdown summary to paste into BENCHMARKS.md. Pure but for `write_json`.

Failures (exit code 1): a round with an event lost for good (lost at the round's end and still not
delivered when the session ended), or a round whose deliveries did not resume — any 2xx after the
restart, and a 2xx for an event accepted after it — within `resume_limit` seconds. Warnings (the
exit code stays 0): events still pending or stalled at the session's end, a failed warm-up, a
restart that did not become ready, a process that exited on its own (the soak restarts it, as
`pipeline run` would), events normalized twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

COLUMNS = (
    ("round", 5),
    ("kind", 13),
    ("accepted", 8),
    ("delivered", 9),
    ("pending", 7),
    ("stalled", 7),
    ("dead", 4),
    ("lost", 4),
    ("repeated", 8),
    ("by kill", 7),
    ("in-flight@kill (est)", 20),
    ("ready s", 7),
    ("resume s", 8),
    ("fresh s", 7),
    ("drain", 13),
)
SUMMED = (
    "accepted",
    "delivered",
    "pending_total",
    "stalled_total",
    "dead",
    "repeated",
    "repeated_by_kill",
)


def lost(figures: dict[str, Any]) -> int:
    """Losses for good: those the session-end recheck did not see delivered after all."""
    late = figures.get("late")
    return int(late["lost_final"]) if late else int(figures["lost_total"])


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def _cells(figures: dict[str, Any]) -> list[str]:
    fault, drain = figures["fault"], figures["drain"]
    return [
        str(figures["round"]),
        f"{figures['kind']}"
        + (f" ({fault['target']})" if figures["kind"] == "worker-of-two" else ""),
        str(figures["accepted"]),
        str(figures["delivered"]),
        str(figures["pending_total"]),
        str(figures["stalled_total"]),
        str(figures["dead"]),
        str(lost(figures)),
        str(figures["repeated"]),
        str(figures["repeated_by_kill"]),
        _in_flight(figures["in_flight_at_kill"], figures.get("unconcluded_at_kill", 0))
        + f" ({figures['at_risk_estimate']:g})",
        _seconds(fault["ready_s"]),
        _seconds(figures["resume_s"]),
        _seconds(figures["fresh_resume_s"]),
        f"{drain['ended']} {drain['seconds']:.0f}s",
    ]


def _in_flight(open_: int, unconcluded: int) -> str:
    """Requests open at the subscriber at the kill, `+` those it had answered 2xx that the worker
    had not concluded."""
    return f"{open_}+{unconcluded}" if unconcluded else str(open_)


def _totals(rounds: Sequence[dict[str, Any]]) -> list[str]:
    sums = {key: sum(int(r[key]) for r in rounds) for key in SUMMED}
    in_flight = sum(int(r["in_flight_at_kill"]) for r in rounds)
    unconcluded = sum(int(r.get("unconcluded_at_kill", 0)) for r in rounds)
    at_risk = sum(float(r["at_risk_estimate"]) for r in rounds)
    resumes = [r["resume_s"] for r in rounds if r["resume_s"] is not None]
    fresh = [r["fresh_resume_s"] for r in rounds if r["fresh_resume_s"] is not None]
    readies = [r["fault"]["ready_s"] for r in rounds if r["fault"]["ready_s"] is not None]
    return [
        "total",
        f"{len(rounds)} rounds",
        str(sums["accepted"]),
        str(sums["delivered"]),
        str(sums["pending_total"]),
        str(sums["stalled_total"]),
        str(sums["dead"]),
        str(sum(lost(r) for r in rounds)),
        str(sums["repeated"]),
        str(sums["repeated_by_kill"]),
        _in_flight(in_flight, unconcluded) + f" ({at_risk:g})",
        "max " + _seconds(max(readies, default=None)),
        "max " + _seconds(max(resumes, default=None)),
        "max " + _seconds(max(fresh, default=None)),
        "",
    ]


def table(rounds: Sequence[dict[str, Any]]) -> str:
    widths = [max(width, len(name)) for name, width in COLUMNS]
    rows = [[name for name, _ in COLUMNS], *(_cells(r) for r in rounds), _totals(rounds)]
    widths = [max(w, *(len(row[i]) for row in rows)) for i, w in enumerate(widths)]
    lines = ["  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    return "\n".join(lines)


def verdict(rounds: Sequence[dict[str, Any]], resume_limit: float) -> tuple[list[str], list[str]]:
    """(failures, warnings), one line each."""
    failures, warnings = [], []
    for r in rounds:
        name = f"round {r['round']} ({r['kind']})"
        if lost(r):
            failures.append(f"{name}: {lost(r)} accepted events lost {r['lost']}")
        for key, what in (("resume_s", "any delivery"), ("fresh_resume_s", "a fresh event")):
            value = r[key]
            needed = key == "resume_s" or r["accepted_after_restart"] > 0
            if needed and (value is None or value > resume_limit):
                failures.append(
                    f"{name}: {what} delivered {_seconds(value)} s after the restart "
                    f"(limit {resume_limit:g} s)"
                )
        never = r.get("late", {}).get("never_delivered", 0) - lost(r)
        if never > 0:
            warnings.append(
                f"{name}: {never} events still undelivered at the end (pending/stalled)"
            )
        if not r["warm_up"]["ok"]:
            warnings.append(f"{name}: the warm-up was not delivered within its deadline")
        if r["fault"]["error"]:
            warnings.append(f"{name}: restart of {r['fault']['target']}: {r['fault']['error']}")
        for exit_ in r.get("exited_on_their_own", ()):
            warnings.append(f"{name}: {exit_} exited on its own and was restarted")
        if r["normalized_repeats"]:
            warnings.append(f"{name}: {r['normalized_repeats']} events normalized more than once")
        in_flight = r["in_flight_at_kill"] + r.get("unconcluded_at_kill", 0)
        if r["repeated_by_kill"] > in_flight:
            gaps = ", ".join(f"{ms:g}" for ms in r.get("before_kill_ms", ()))
            warnings.append(
                f"{name}: {r['repeated_by_kill']} repeats by the kill, {in_flight} deliveries "
                f"in flight at it; the first 2xx of those answered before it came "
                f"{gaps or '?'} ms before the kill"
            )
    return failures, warnings


ACCOUNTING_NOTE = (
    "Accounting from the topics: pending = a task not yet consumed on `deliveries` or "
    "`deliveries.retry.*`; stalled = present upstream, not yet consumed; lost = a stage committed "
    "past it and wrote nothing downstream. Repeated: webhook-ids answered 2xx more than once; by "
    "kill: of those, the ones in flight at the kill, answered before it, routed twice or replayed "
    "after it (the rest are timeouts at the worker that the subscriber still answered 2xx). "
    "In-flight@kill: requests open at the subscriber at the kill, + those it had answered 2xx "
    "that the killed worker had not concluded (no attempt logged as delivered before the kill) "
    "(at-risk estimate, an upper bound of the repeats by kill); resume: first 2xx after the "
    "restart; fresh: first 2xx of an event accepted after the restart."
)


def _setup_line(results: dict[str, Any]) -> str:
    config, machine, versions = results["config"], results["machine"], results["versions"]
    subscriber = config["subscriber"]
    slow_from, slow_to = subscriber["slow_seconds"]
    return (
        f"`python -m bench soak --rounds {config['rounds']} --seed {config['seed']}`: per round "
        f"{config['rate']:g} webhooks/s for {config['duration']:g} s "
        f"({config['mix']['duplicate_share']:.0%} resends) plus polled Hootsuite messages; the "
        f"subscriber answers {subscriber['slow_share']:.0%} after {slow_from:g}-{slow_to:g} s "
        f"and {subscriber['fail_share']:.0%} with 500. Pipeline: retries after "
        f"{config['retry_schedule']} s, timeout {config['delivery_timeout']:g} s, "
        f"{config['delivery_concurrency']} requests per tier, {config['per_subscription']} per "
        f"subscription. Machine: {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Python {versions['python']}, Kafka {versions['kafka']} "
        f"(the soak's own broker), pipeline {versions['pipeline_head'][:10]}."
    )


def markdown(results: dict[str, Any]) -> str:
    rounds = results["rounds"]
    names = [name for name, _ in COLUMNS]
    body = [_cells(r) for r in rounds] + [_totals(rounds)]
    failures, warnings = verdict(rounds, results["config"]["resume_limit"])
    closing = [] if failures else ["- every accepted event accounted for; every round resumed"]
    lines = [
        f"### Soak {results['stamp']}: {len(rounds)} rounds, one SIGKILL + restart each",
        "",
        _setup_line(results),
        "",
        "| " + " | ".join(names) + " |",
        "|" + "|".join("---:" for _ in names) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
        "",
        ACCOUNTING_NOTE,
        "",
        *(f"- FAIL {line}" for line in failures),
        *(f"- warning: {line}" for line in warnings),
        *closing,
    ]
    return "\n".join(lines) + "\n"


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    partial.replace(path)
