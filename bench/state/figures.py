"""`python -m bench state`'s data and figures: the key batches it writes, what it reads back from
the table worker's log and samples, and the tables it prints (bench/state/main.py runs the
parts)."""

from __future__ import annotations

import hashlib
import re
import statistics
import uuid
from dataclasses import dataclass
from typing import Any

KEYS_PER_RECORD = 2000
# Records of key batches the table worker's agent may hold unprocessed (its channel's size): the
# worker's own 4,096-record buffer would hold ~140 kB records by the thousand, not events of 1 kB.
SOURCE_BUFFER_RECORDS = 8
MIB = 1024 * 1024
MILLION = 1_000_000
_RECOVERED = re.compile(
    r"table (?P<table>\S+) recovered: (?P<records>\d+) changelog records applied, "
    r"(?P<seconds>[\d.]+) s since the rebalance"
)


def dedup_key(tag: str, number: int) -> str:
    """The `number`th key of a run, shaped as the normalize agent's `source id` (an Oktopost
    instance, a uuid): unique per (tag, number), spread like real ids."""
    digest = hashlib.blake2b(f"{tag}:{number}".encode(), digest_size=16).digest()
    return f"oktopost/bench-{tag} {uuid.UUID(bytes=digest)}"


def key_batch(tag: str, start: int, count: int) -> bytes:
    """One record's value: keys `start` … `start + count - 1`, one a line."""
    return "\n".join(dedup_key(tag, number) for number in range(start, start + count)).encode()


def split_keys(value: bytes) -> list[str]:
    return value.decode().split("\n") if value else []


def sample_due(before: int, after: int, every: int, total: int) -> bool:
    """Whether writing keys `before` … `after` passed a multiple of `every` or reached `total`."""
    return after // every > before // every or before < total <= after


@dataclass(frozen=True)
class Recovery:
    """What a table worker's log says of one table's recovery after a start."""

    table: str
    records: int
    seconds: float


def recoveries(log_text: str) -> list[Recovery]:
    """Every "table … recovered" line of a table worker's log, in order."""
    return [
        Recovery(match["table"], int(match["records"]), float(match["seconds"]))
        for match in _RECOVERED.finditer(log_text)
    ]


def table_figures(samples: list[dict[str, Any]], warm_keys: int = MILLION) -> dict[str, Any]:
    """RSS and disk over the samples: growth from the first sample at `warm_keys` or more (the
    caches full) to the last, per million keys, and a least-squares slope over those samples."""
    if not samples:
        raise ValueError("no samples")
    last = samples[-1]
    warm = next((s for s in samples if s["keys"] >= warm_keys and s is not last), samples[0])
    after = [s for s in samples if s["keys"] >= warm["keys"]]
    growth_mib = (last["rss_kib"] - warm["rss_kib"]) / 1024
    keys_after = last["keys"] - warm["keys"]
    slope = None
    if len(after) >= 2:
        fit = statistics.linear_regression(
            [s["keys"] for s in after], [s["rss_kib"] * 1024 for s in after]
        )
        slope = round(fit.slope * MILLION / MIB, 2)
    return {
        "keys": last["keys"],
        "warm_keys": warm["keys"],
        "rss_first_mib": round(samples[0]["rss_kib"] / 1024, 1),
        "rss_warm_mib": round(warm["rss_kib"] / 1024, 1),
        "rss_end_mib": round(last["rss_kib"] / 1024, 1),
        "rss_peak_mib": round(max(s["rss_kib"] for s in samples) / 1024, 1),
        "rss_growth_warm_to_end_mib": round(growth_mib, 1),
        "rss_mib_per_million_keys": round(growth_mib * MILLION / keys_after, 2)
        if keys_after
        else None,
        "rss_slope_mib_per_million_keys": slope,
        "disk_end_bytes": last["disk_bytes"],
        "disk_bytes_per_key": round(last["disk_bytes"] / last["keys"], 1),
        "disk_mib_per_million_keys": round(last["disk_bytes"] / last["keys"] * MILLION / MIB, 1),
        "keys_per_s": round(last["keys"] / last["seconds"]) if last["seconds"] else None,
    }


def recovery_figures(recovery: Recovery, keys: int, wall_seconds: float) -> dict[str, Any]:
    """One restart's recovery: what the worker said, the wall time from its start, and the
    worker's seconds per million keys held (what a rebuild's cost is proportional to)."""
    return {
        "records_applied": recovery.records,
        "seconds_since_rebalance": recovery.seconds,
        "seconds_from_process_start": round(wall_seconds, 1),
        "seconds_per_million_keys": round(recovery.seconds * MILLION / keys, 2) if keys else None,
    }


def bytes_per_event(rss_mib: list[float], events_per_phase: int) -> float | None:
    """Worker RSS growth per new event after the first phase (the caches warm by then)."""
    if len(rss_mib) < 2:
        return None
    return round((rss_mib[-1] - rss_mib[0]) * MIB / (events_per_phase * (len(rss_mib) - 1)), 1)


def slope_per_event(warm_mib: float, rss_mib: list[float], events_per_phase: int) -> float | None:
    """Least-squares RSS growth per event from the warm point over every phase: single readings
    move by megabytes as malloc's free pool and the caches churn, a slope over many phases less."""
    if not rss_mib:
        return None
    xs = [events_per_phase * n for n in range(len(rss_mib) + 1)]
    ys = [warm_mib * MIB, *(mib * MIB for mib in rss_mib)]
    return round(statistics.linear_regression(xs, ys).slope, 1)


ROCKSDB_MEMORY = ("cur-size-all-mem-tables", "block-cache-usage", "estimate-table-readers-mem")


def _probe_parts(probe: dict[str, Any]) -> dict[str, float]:
    tables = probe["tables"].values()
    parts = {name: float(sum(table[name] for table in tables)) for name in ROCKSDB_MEMORY}
    return {
        "rss": probe["rss_kib"] * 1024.0,
        **parts,
        "malloc_free": float(probe.get("malloc_free_bytes", 0)),
    }


def growth_by_part(first: dict[str, Any], last: dict[str, Any], events: int) -> dict[str, float]:
    """Bytes per event by which the worker's RSS and what holds it grew from probe `first` to
    probe `last`: RocksDB's memtables, block cache and table readers (index and filter blocks),
    the memory glibc's malloc keeps free, and the rest (`other`)."""
    before, after = _probe_parts(first), _probe_parts(last)
    grown = {name: (after[name] - before[name]) / events for name in before}
    grown["other"] = grown["rss"] - sum(v for name, v in grown.items() if name != "rss")
    return {name: round(value, 1) for name, value in grown.items()}


def table_lines(results: dict[str, Any]) -> list[str]:
    """The bench's tables in Markdown: the table layer, its recoveries, the whole pipeline."""
    lines: list[str] = []
    if (table := results.get("table")) is not None:
        figures = table["figures"]
        lines += [
            "| keys | RSS MiB | disk MiB | memtables MiB | block cache MiB | readers MiB |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {s['keys']:,} | {s['rss_kib'] / 1024:.1f} | {s['disk_bytes'] / MIB:.1f} "
            f"| {s['cur-size-all-mem-tables'] / MIB:.1f} | {s['block-cache-usage'] / MIB:.1f} "
            f"| {s['estimate-table-readers-mem'] / MIB:.1f} |"
            for s in table["samples"]
        ]
        lines += [
            "",
            f"RSS {figures['rss_warm_mib']} MiB at {figures['warm_keys']:,} keys → "
            f"{figures['rss_end_mib']} MiB at {figures['keys']:,}: "
            f"+{figures['rss_growth_warm_to_end_mib']} MiB "
            f"({figures['rss_mib_per_million_keys']} MiB per million keys); disk "
            f"{figures['disk_bytes_per_key']} bytes per key; {figures['keys_per_s']:,} keys/s",
            "",
            "| restart | records applied | s since rebalance | s from start | s per million keys |",
            "|---|---|---|---|---|",
        ]
        for name, run in table["recovery"].items():
            lines.append(
                f"| {name} | {run['records_applied']:,} | {run['seconds_since_rebalance']} "
                f"| {run['seconds_from_process_start']} | {run['seconds_per_million_keys']} |"
            )
    if (pipeline := results.get("pipeline")) is not None:
        rss = " → ".join(f"{value:.1f}" for value in pipeline["worker_rss_mib"])
        warm = pipeline.get("worker_rss_after_warmup_mib")
        lines += [
            "",
            f"Worker RSS after {pipeline.get('warmup_events', 0):,} events of warm-up: {warm} MiB,"
            f" then after each phase of {pipeline['events_per_phase']:,} unique events: "
            f"{rss} MiB; {pipeline['bytes_per_event_after_first']} bytes per event after the "
            f"first phase, {pipeline.get('bytes_per_event_slope_from_warm')} by the least-squares"
            " slope from the warm point (busy: read as the phase's last event was delivered)",
        ]
        if (at_rest := pipeline.get("worker_rss_at_rest_mib")) is not None:
            lines.append(
                f"At rest (after the next table-expiry run): "
                f"{pipeline['worker_rss_at_rest_after_warmup_mib']} MiB warm, then "
                + " → ".join(f"{value:.1f}" for value in at_rest)
                + f" MiB; {pipeline['at_rest_bytes_per_event_after_first']} bytes per event after"
                f" the first phase, {pipeline['at_rest_bytes_per_event_slope_from_warm']} by the"
                " slope from the warm point"
            )
        if grown := pipeline.get("growth_by_part_bytes_per_event"):
            lines.append(
                "of which, bytes per event: " + ", ".join(f"{k} {v}" for k, v in grown.items())
            )
    return lines
