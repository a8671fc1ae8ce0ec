"""PNG plots of one session: latency against offered rate, and throughput over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

SERIES = (
    ("pipeline", "latency_s", "ingress"),
    ("ingress", "latency_s", "ingress alone (no worker)"),
    ("pipeline", "end_to_end_s", "pipeline end-to-end"),
    ("bare_http", "latency_s", "bare aiohttp 202"),
    ("bare_delivery", "end_to_end_s", "bare client → receiver"),
)


def latency_plot(results: dict[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(8, 5))
    for target, field, label in SERIES:
        runs = [
            r for r in results["runs"] if r["target"] == target and r["offered_rate"] and field in r
        ]
        if not runs:
            continue
        rates = [r["offered_rate"] for r in runs]
        for share, style in (("p50", "--"), ("p99", "-")):
            values = [(r[field][share] or float("nan")) * 1000 for r in runs]
            axes.plot(rates, values, style, marker="o", label=f"{label} {share}")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("offered webhooks/s (open loop)")
    axes.set_ylabel("latency, ms (from the scheduled send)")
    axes.set_title(f"Latency vs offered rate ({results['stamp']})")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def throughput_plot(results: dict[str, Any], path: Path) -> None:
    runs = [r for r in results["runs"] if r["target"] == "pipeline"]
    if not runs:
        return
    figure, panels = plt.subplots(len(runs), 1, figsize=(8, 2.2 * len(runs)), squeeze=False)
    for axes, run in zip(panels[:, 0], runs, strict=True):
        axes.plot(run["accepted_per_s"], label="webhooks accepted (202)/s")
        if "delivered_per_s" in run:
            axes.plot(run["delivered_per_s"], label="this run's events delivered/s")
        if "all_delivered_per_s" in run:  # backlog of earlier runs included
            axes.plot(run["all_delivered_per_s"], ":", label="all deliveries/s")
        if run["offered_rate"]:
            axes.axhline(
                run["offered_rate"], color="grey", linestyle=":", label="offered webhooks/s"
            )
        axes.set_title(run["name"], fontsize=9)
        axes.set_ylabel("per second")
        axes.grid(True, alpha=0.3)
    panels[-1, 0].set_xlabel("seconds since the first scheduled send")
    panels[0, 0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
