"""The drain's `bare` flow: `bench.drains.bare_flow` as a child process draining the session's
backlog, so its figures stand beside the worker's (`python -m bench drain --with-bare`).

It reads the session's `webhooks.raw` from its start under a consumer group of its own, writes to
topics of its own (the session's prefix + `bare.`), and delivers to the session's receiver under
the session's subscriptions (their ids, instances and signing secret), so the receiver verifies
every delivery as it does the worker's. Its environment is the worker's (`--env` reaches both):
delivery concurrency, timeout and producer linger are the worker's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.children import Child
from bench.drains.bare_steps import FlowSpec, spec_subscription
from pipeline.contract.topics import Topic
from pipeline.settings import Settings

NAME = "bare-flow"


@dataclass(frozen=True)
class BareRoute:
    """One subscription of the session and the instances whose events it receives."""

    subscription_id: str
    instance_ids: list[str]


def bare_spec(settings: Settings, routes: list[BareRoute], hook_url: str, secret: str) -> FlowSpec:
    """The spec of a bare_flow draining the session of `settings` beside its worker."""
    return FlowSpec(
        source=settings.topic(Topic.WEBHOOKS_RAW),
        group=f"{settings.app_id}-bare",
        subscriptions=[
            spec_subscription(route.subscription_id, hook_url, secret, route.instance_ids)
            for route in routes
        ],
        settings={
            "topic_prefix": f"{settings.topic_prefix}bare.",
            "app_id": f"{settings.app_id}-bare",
        },
    )


@dataclass
class BareDrainer:
    """The bare_flow process of one drain; its counts are in its OUT file once it stopped."""

    child: Child
    out: Path

    @property
    def children(self) -> list[Child]:
        return [self.child]

    async def stop_and_count(self) -> dict[str, dict[str, Any] | None]:
        await self.child.stop()
        try:
            counts: dict[str, Any] | None = orjson.loads(self.out.read_bytes())
        except (OSError, orjson.JSONDecodeError):  # killed before it could write them
            counts = None
        return {self.child.name: counts}


def bare_drainer(spec: FlowSpec, work: Path, env: dict[str, str]) -> BareDrainer:
    """A bare_flow child (not started) with its spec written under `work`."""
    spec_path, out = work / f"{NAME}-spec.json", work / f"{NAME}-out.json"
    spec_path.write_bytes(spec.to_json())
    argv = ["bench.drains.bare_flow", str(spec_path), str(out)]
    return BareDrainer(Child(NAME, argv, work, env), out)


def flow_ratios(worker: dict[str, Any], bare: dict[str, Any]) -> dict[str, float | None]:
    """The worker's figures as multiples of bare_flow's (None where bare_flow has no figure):
    deliveries/s (below 1: slower) and CPU-s per 1,000 delivered events (above 1: costlier)."""

    def ratio(key: str) -> float | None:
        return round(worker[key] / bare[key], 3) if bare.get(key) else None

    return {
        "events_per_s": ratio("events_per_s"),
        "cpu_s_per_1000": ratio("worker_cpu_s_per_1000"),
    }


def comparison(drained: dict[str, Any]) -> str:
    """The lines a `--with-bare` drain prints after its JSON: each flow's figures, the ratios."""
    lines = []
    for name, figures in drained["flows"].items():
        lines.append(
            f"{name:>6}: {figures['events_delivered']}/{figures['events_expected']} events, "
            f"{figures['events_per_s']} events/s, "
            f"{figures['worker_cpu_s_per_1000']} CPU-s per 1,000 delivered, "
            f"longest gap {figures['longest_gap_s']} s, {figures['repeats']} repeats, "
            f"{figures['unsigned']} unsigned, machine busy {figures['machine_busy']}"
        )
    ratios = drained["ratios"]
    lines.append(
        f"worker/bare: deliveries/s {ratios['events_per_s']}, "
        f"CPU-s per delivered event {ratios['cpu_s_per_1000']}"
    )
    return "\n".join(lines)
