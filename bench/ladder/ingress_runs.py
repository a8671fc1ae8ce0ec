"""The ingress alone: `pipeline ingress` on topics no worker reads, paired with bare aiohttp.

In a full session the worker is saturated from the first rate on and takes a core, so the
pipeline runs show the ingress squeezed beside it. These runs measure the ingress itself: a
second ingress (its own topic prefix, instances and ports, on the session's broker) before the
pipeline's runs; an ingress-only session (`--ingress-only`) runs them on its only ingress. Each
rate's bare-aiohttp run is followed at once by the ingress's, so load drifting during the session
(a shared machine) hits each pair alike. Named `ingress-r<rate>` / `ingress-max`, target `ingress`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from bench.broker import create_topics
from bench.ladder.baselines import http_runs, load_spec
from bench.ladder.runs import Harness, Run
from bench.payloads import Instances
from bench.stack import Stack, register, session_settings, start_stack


def _label(rate: float | None) -> str:
    return f"r{rate:g}" if rate else "max"


def ingress_runs(
    harness: Harness, stack: Stack, instances: Instances, broker_pid: int
) -> list[Run]:
    profile = (
        {"ingress": stack.ingress.pid} if harness.config.profile in ("ingress", "both") else {}
    )
    return [
        Run(
            name=f"ingress-{_label(rate)}",
            target="ingress",
            spec=load_spec(harness, stack.base_url, "webhooks", rate, instances=instances),
            pids={"ingress": stack.ingress.pid, "broker": broker_pid},
            delivers=False,
            profile=profile,
        )
        for rate in [*harness.config.rates, None]
    ]


def pairs(
    harness: Harness,
    stack: Stack,
    instances: Instances,
    broker_pid: int,
    bare: tuple[str, int],
) -> list[list[Run]]:
    """[bare aiohttp at r, the ingress at r] for each rate, then both maxima."""
    bare_url, bare_pid = bare
    alone = ingress_runs(harness, stack, instances, broker_pid)
    return [list(pair) for pair in zip(http_runs(harness, bare_url, bare_pid), alone, strict=True)]


@contextlib.asynccontextmanager
async def alone_stack(
    harness: Harness, bootstrap: str, receiver_url: str
) -> AsyncIterator[tuple[Stack, Instances]]:
    """A second ingress with topics, instances and ports of its own, and no worker."""
    settings = session_settings(bootstrap, harness.work / "alone", uuid.uuid4().hex[:6])
    await create_topics(settings)
    logs = harness.logs / "alone"
    logs.mkdir(exist_ok=True)
    stack = await start_stack(settings, Path(logs), harness.config.env, worker=False)
    try:
        instances, _ = await register(stack, f"{receiver_url}/hook")
        yield stack, instances
    finally:
        await stack.stop()
