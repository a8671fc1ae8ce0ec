"""Percentiles and per-second series, without numpy (nearest-rank on sorted samples)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

PERCENTILES = (50, 95, 99)


def percentile(ordered: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of already sorted samples (`share` in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(samples: Iterable[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99, max and mean, in the samples' unit (None when there are none)."""
    ordered = sorted(samples)
    if not ordered:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    summary: dict[str, float | int | None] = {"count": len(ordered)}
    for share in PERCENTILES:
        summary[f"p{share}"] = round(percentile(ordered, share), 6)
    summary["max"] = round(ordered[-1], 6)
    summary["mean"] = round(sum(ordered) / len(ordered), 6)
    return summary


def per_second(moments: Iterable[float], origin: float) -> list[int]:
    """How many of `moments` fall in each whole second after `origin`."""
    counts: list[int] = []
    for moment in moments:
        second = int(moment - origin)
        if second < 0:
            continue
        if second >= len(counts):
            counts.extend([0] * (second + 1 - len(counts)))
        counts[second] += 1
    return counts
