"""`python -m bench drain [--webhooks N] [--workers N] [--spread K] [--flow bare | --with-bare]`:
workers alone, draining a backlog; or the bare_flow baseline draining it, or both in turn.

The ingress accepts N webhooks while no worker runs; then the workers start together (one app id,
so one consumer group) and the clock runs from their start until the subscriber has every accepted
event. Reported: events/s over the drain (from the first delivery to the last), the workers' CPU-s
per 1,000 delivered events (all workers together; each worker's CPU-s beside), the longest gap
between deliveries, and how many events came twice. The load generator and the ingress are idle
meanwhile, so the figures are the workers' own; the broker and the subscriber still share the
machine, which `receiver_cpu_s` and `machine_busy` (the share of all cores in use) show. A fast
way to compare worker changes; `make bench` stays the judge.

`--flow bare` drains the backlog with `bench.drains.bare_flow` instead (issue 25: the same record
flow on plain aiokafka and aiohttp, no faust; `bench.drains.bare_drain`), measured the same way, so
the figures compare directly; `worker_cpu_s_per_1000` is then bare_flow's CPU. `--with-bare` runs
the worker(s) first, then bare_flow on the same backlog (its own consumer groups and output topics,
the same receiver and subscriptions), each clocked from its own start and counted from the
receiver's log as it stood then, and adds `ratios`: worker / bare deliveries/s and CPU-s per 1,000
delivered events.

Work spreads over workers by partition: `webhooks.raw` is keyed by instance id, so the backlog's
two instances are normalized by at most two workers, and `deliveries` by subscription and event
subject, so even a single subscription's deliveries spread over every partition. `--spread K`
registers K subscriptions instead, each the only one receiving the events of its own Oktopost and
Hootsuite instance, their ids on K different partitions of both topics; the subscriptions share
one signing secret, so the subscriber verifies every delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.broker import create_topics, start_broker, stop_broker
from bench.children import Child, clean_env, free_port
from bench.drains.bare_drain import BareRoute, bare_drainer, bare_spec, comparison, flow_ratios
from bench.payloads import Instances, Mix, WebhookFactory
from bench.procstat import cpu_seconds
from bench.profiling import Profile, start_profile, summarize_profile
from bench.soak.stack import PARTITIONS, spread_ids
from bench.stack import (
    Stack,
    pipeline_env,
    register_instances,
    session_settings,
    start_stack,
    subscribe,
    worker_envs,
)
from pipeline.http.standard_webhooks import generate_secret
from pipeline.settings import Settings

CLIENTS = 32
GAP_SECONDS = 0.5  # a pause in deliveries this long is listed
POLL_SECONDS = 0.5
FLOWS = ("worker", "bare")


@dataclass(frozen=True)
class Route:
    """One subscription and the two instances whose events it alone receives."""

    subscription_id: str
    oktopost_id: str
    hootsuite_id: str


def spread_routes(stem: str, count: int) -> list[Route]:
    """`count` routes: the subscription ids on different partitions of `deliveries`, the Oktopost
    ids (and the Hootsuite ids) on different partitions of `webhooks.raw`."""
    if not 1 <= count <= PARTITIONS:
        raise ValueError(f"a spread is 1 to {PARTITIONS} subscriptions, not {count}")
    columns = (f"sub-{stem}", f"okto-{stem}", f"hoot-{stem}")
    ids = [spread_ids(column, count) for column in columns]
    return [Route(*route) for route in zip(*ids, strict=True)]


def worker_counts(exposition: str) -> dict[str, int]:
    """The events a worker normalized and delivered, from its `/metrics` page."""
    counts = {"normalized": 0, "delivered": 0}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "pipeline_events_normalized_total":
                counts["normalized"] += int(sample.value)
            delivered = sample.labels.get("outcome") == "delivered"
            if sample.name == "pipeline_delivery_attempts_total" and delivered:
                counts["delivered"] += int(sample.value)
    return counts


def machine_jiffies(stat: str) -> tuple[int, int]:
    """(busy, all) jiffies of every core so far, from the `cpu` line of /proc/stat; idle and
    iowait are not busy, guest time is inside user time already."""
    fields = [int(value) for value in stat.split("\n", 1)[0].split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


@dataclass
class DrainMeter:
    """CPU seconds of named processes and the machine's jiffies: the latest reading, and the one
    taken just before the first delivery was seen (start-up is not the drain's)."""

    pids: dict[str, int]
    latest: dict[str, float] = field(default_factory=dict)
    at_first: dict[str, float] = field(default_factory=dict)
    machine: tuple[int, int] = (0, 0)
    machine_at_first: tuple[int, int] | None = None

    def read(self) -> None:
        for name, pid in self.pids.items():
            # An exited process reads 0 seconds: its last reading stands.
            self.latest[name] = cpu_seconds(pid) or self.latest.get(name, 0.0)
        self.machine = machine_jiffies(Path("/proc/stat").read_text())

    def mark_first(self) -> None:
        self.at_first = dict(self.latest)
        self.machine_at_first = self.machine

    def used(self) -> dict[str, float]:
        """Each process's CPU seconds from the first delivery on (all of them if none came)."""
        return {
            name: round(self.latest.get(name, 0.0) - self.at_first.get(name, 0.0), 2)
            for name in self.pids
        }

    def machine_busy(self) -> float | None:
        """The share of all cores busy from the first delivery on (1.0: every core, all along)."""
        if self.machine_at_first is None:
            return None
        (busy, total), (busy_then, total_then) = self.machine, self.machine_at_first
        return round((busy - busy_then) / max(total - total_then, 1), 2)


@dataclass
class Received:
    """The subscriber's log, as read so far."""

    arrived: list[float] = field(default_factory=list)
    event_ids: Counter[str] = field(default_factory=Counter)
    unsigned: int = 0  # deliveries whose signature did not verify
    next: int = 0  # the receiver's log from here on is unread (earlier: another flow's)

    def add(self, answer: dict[str, Any]) -> None:
        self.arrived += answer["arrived"]
        self.event_ids.update(answer["event_ids"])
        self.unsigned += answer["signed"].count(False)
        self.next = answer["next"]


async def _post_all(base_url: str, factories: list[WebhookFactory], count: int) -> set[str]:
    """POST `count` webhooks, from each factory in turn; the event ids the ingress accepted."""
    accepted: set[str] = set()
    remaining = iter(range(count))
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            for number in remaining:
                request = factories[number % len(factories)].next()
                async with session.post(
                    base_url + request.path, data=request.body, headers=request.headers
                ) as response:
                    if response.status == 202:
                        accepted.update(request.event_ids)

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return accepted


async def _received(receiver_url: str, since: int) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{receiver_url}/records", params={"since": str(since)}) as response,
    ):
        answer: dict[str, Any] = await response.json()
        return answer


async def _receiver_count(receiver_url: str) -> int:
    """How many deliveries the receiver has logged so far."""
    return int((await _received(receiver_url, sys.maxsize))["next"])


async def _worker_counts(worker: Child) -> dict[str, int] | None:
    """What the running `worker` normalized and delivered; None if its page does not answer."""
    url = f"http://127.0.0.1:{worker.env['PIPELINE_WORKER_WEB_PORT']}/metrics"
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return worker_counts(await response.text())
    except aiohttp.ClientError:
        return None


def drain_figures(
    arrived: list[float],
    event_ids: Counter[str],
    expected: set[str],
    started: float,
    cpu: float,
) -> dict[str, Any]:
    """The drain's figures from the subscriber's log (arrival times, event ids as received), the
    workers' start (same clock) and their CPU seconds from the first delivery on."""
    first, last = (arrived[0], arrived[-1]) if arrived else (started, started)
    gaps = [b - a for a, b in pairwise(arrived)]
    span = max(last - first, 1e-9)
    return {
        "events_expected": len(expected),
        "events_delivered": len(expected & event_ids.keys()),
        "repeats": sum(event_ids.values()) - len(event_ids),
        "start_to_first_delivery_s": round(first - started, 2),
        "drain_s": round(span, 2),
        "events_per_s": round(len(arrived) / span, 1),
        "worker_cpu_s_per_1000": round(1000 * cpu / max(len(arrived), 1), 3),
        "longest_gap_s": round(max(gaps, default=0.0), 3),
        "gaps_over_0_5_s": [  # (seconds after the first delivery, gap length)
            (round(arrived[i + 1] - first, 2), round(gap, 2))
            for i, gap in enumerate(gaps)
            if gap > GAP_SECONDS
        ],
    }


@dataclass(frozen=True)
class Registered:
    """What the session registered: the receiver's hook every subscription points at, the
    secret signing every delivery, the instances to send webhooks to, each route's subscription."""

    hook_url: str
    secret: str
    instances: list[Instances] = field(default_factory=list)
    routes: list[BareRoute] = field(default_factory=list)


async def _register(stack: Stack, receiver_url: str, spread: int) -> Registered:
    """`spread` routes, each an Oktopost and a Hootsuite instance and the subscription alone
    receiving their events; the receiver gets the secret that signs every delivery."""
    hook_url = f"{receiver_url}/hook"
    secret = generate_secret()
    registered = Registered(hook_url, secret)
    for route in spread_routes(uuid.uuid4().hex[:6], spread):
        instances = await register_instances(stack, route.oktopost_id, route.hootsuite_id)
        own = [route.oktopost_id, route.hootsuite_id]
        await subscribe(stack, hook_url, route.subscription_id, own, secret)
        registered.instances.append(instances)
        registered.routes.append(BareRoute(route.subscription_id, own))
    async with aiohttp.ClientSession() as session:
        await session.put(f"{receiver_url}/secret", data=secret)
    return registered


class Drainer(Protocol):
    """The processes of one flow draining the backlog (not started yet)."""

    @property
    def children(self) -> list[Child]: ...

    async def stop_and_count(self) -> dict[str, dict[str, Any] | None]:
        """Stop every child; what each says it did (None: it could not say)."""
        ...


@dataclass
class WorkerDrainer:
    """The pipeline's worker processes, one consumer group; counts from their `/metrics`."""

    children: list[Child]

    async def stop_and_count(self) -> dict[str, dict[str, Any] | None]:
        counts: dict[str, dict[str, Any] | None] = {
            worker.name: await _worker_counts(worker) for worker in self.children
        }
        await asyncio.gather(*(worker.stop() for worker in self.children))
        return counts


async def _watch(
    receiver_url: str,
    expected: set[str],
    meter: DrainMeter,
    until: float,
    on_first: Callable[[], None],
    *,
    since: int,
) -> Received:
    """Read the subscriber's log from `since` on and the meter until every expected event came
    or `until` passed."""
    received = Received(next=since)
    while time.monotonic() < until:
        meter.read()
        answer = await _received(receiver_url, received.next)
        if not received.arrived and answer["arrived"]:
            meter.mark_first()
            on_first()
        received.add(answer)
        if expected <= received.event_ids.keys():
            break
        await asyncio.sleep(POLL_SECONDS)
    return received


async def _measure(
    drainer: Drainer,
    receiver: Child,
    receiver_url: str,
    expected: set[str],
    *,
    deadline: float,
    profile: float,
) -> dict[str, Any]:
    """Start the drainer's processes together and measure them until the subscriber has
    `expected` (deliveries logged before they started are not theirs)."""
    recordings: list[Profile] = []
    first = drainer.children[0]

    def profile_first() -> None:
        output = first.log_path.with_name(f"{first.name}-profile.txt")
        recording = start_profile(first.name, first.pid, profile, output, output.parent)
        if recording is not None:
            recordings.append(recording)

    since = await _receiver_count(receiver_url)
    started = time.monotonic()
    pids = {child.name: child.start().pid for child in drainer.children}
    meter = DrainMeter({**pids, "receiver": receiver.pid})
    on_first = profile_first if profile else lambda: None
    received = await _watch(
        receiver_url, expected, meter, started + deadline, on_first, since=since
    )
    counts = await drainer.stop_and_count()
    recorded = recordings[0].wait(profile + 10) if recordings else None
    cpu = meter.used()
    receiver_cpu = cpu.pop("receiver")
    total = sum(cpu.values())
    return {
        **drain_figures(received.arrived, received.event_ids, expected, started, total),
        "unsigned": received.unsigned,
        "per_worker_cpu_s": cpu,
        "per_worker_events": counts,
        "worker_start_cpu_s": round(sum(meter.at_first.get(name, 0.0) for name in pids), 2),
        "receiver_cpu_s": receiver_cpu,
        "machine_busy": meter.machine_busy(),
        "profile": summarize_profile(recorded) if recorded is not None else None,
    }


def _drainer(
    flow: str,
    *,
    settings: Settings,
    env: dict[str, str],
    work: Path,
    workers: int,
    registered: Registered,
) -> Drainer:
    """The processes of `flow` ("worker" or "bare") for this session, not started."""
    if flow == "bare":
        spec = bare_spec(settings, registered.routes, registered.hook_url, registered.secret)
        return bare_drainer(spec, work, pipeline_env(settings, env))
    envs = worker_envs(settings, env, workers)
    names = ["worker-drain", *(f"worker-drain-{n}" for n in range(2, workers + 1))]
    return WorkerDrainer(
        [Child(n, ["pipeline", "worker"], work, e) for n, e in zip(names, envs, strict=True)]
    )


async def drain(
    webhooks: int,
    deadline: float,
    env: dict[str, str],
    bootstrap: str,
    profile: float,
    *,
    workers: int = 1,
    spread: int = 1,
    flows: tuple[str, ...] = ("worker",),
) -> dict[str, Any]:
    """Drain one backlog of `webhooks` with each of `flows` in turn ("worker", "bare")."""
    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    tag = uuid.uuid4().hex[:6]
    settings = session_settings(bootstrap, work, tag)
    await create_topics(settings)
    receiver_port = free_port()
    receiver_url = f"http://127.0.0.1:{receiver_port}"
    receiver = Child("receiver", ["bench.receiver", str(receiver_port)], work, clean_env()).start()
    stack = await start_stack(settings, work, env)
    try:
        await receiver.ready(f"{receiver_url}/healthz")
        registered = await _register(stack, receiver_url, spread)
        if stack.worker is not None:  # started with the ingress, for the registration
            await stack.worker.stop()
        factories = [WebhookFactory(instances, Mix(), tag) for instances in registered.instances]
        expected = await _post_all(stack.base_url, factories, webhooks)
        measured = {}
        for flow in flows:
            drainer = _drainer(
                flow, settings=settings, env=env, work=work, workers=workers, registered=registered
            )
            measured[flow] = await _measure(
                drainer, receiver, receiver_url, expected, deadline=deadline, profile=profile
            )
        head = {"webhooks": webhooks, "workers": workers, "spread": spread}
        tail = {"env": env, "work_dir": str(work)}
        if len(flows) == 1:
            return {**head, "flow": flows[0], **measured[flows[0]], **tail}
        ratios = flow_ratios(measured["worker"], measured["bare"])
        return {**head, "flows": measured, "ratios": ratios, **tail}
    finally:
        await stack.stop()
        await receiver.stop()


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    env = dict(pair.split("=", 1) for pair in args.env)
    results = []
    async with contextlib.AsyncExitStack() as cleanup:
        bootstrap = args.bootstrap
        if bootstrap is None:
            kafka = await start_broker(Path(tempfile.mkdtemp(prefix="bench-drain-kafka-")))
            cleanup.push_async_callback(stop_broker, kafka)
            bootstrap = kafka.bootstrap
        for _ in range(args.repeat):
            drained = await drain(
                args.webhooks,
                args.deadline,
                env,
                bootstrap,
                args.profile,
                workers=args.workers,
                spread=args.spread,
                flows=flows_of(args),
            )
            results.append(drained)
            print(json.dumps(results[-1]), flush=True)  # noqa: T201 - the command's output
            if "ratios" in drained:
                print(comparison(drained), flush=True)  # noqa: T201 - the command's output
    return results


def flows_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The flows one drain runs, in order: `--with-bare` is the worker, then bare_flow."""
    return FLOWS if args.with_bare else (args.flow,)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench drain", description=__doc__)
    parser.add_argument("--webhooks", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds for one drain")
    parser.add_argument("--bootstrap", help="an existing broker (default: a new one)")
    parser.add_argument(
        "--profile", type=float, default=0.0, help="py-spy seconds of worker 1 (or bare_flow)"
    )
    parser.add_argument("--env", action="append", default=[], help="PIPELINE_X=value")
    parser.add_argument("--workers", type=int, default=1, help="worker processes, one group")
    parser.add_argument(
        "--spread",
        type=int,
        default=1,
        choices=range(1, PARTITIONS + 1),
        help=f"subscriptions, each on its own partition ({PARTITIONS} for workers to share all)",
    )
    parser.add_argument(
        "--flow", choices=FLOWS, default="worker", help="what drains: the worker(s) or bare_flow"
    )
    parser.add_argument(
        "--with-bare",
        action="store_true",
        help="the worker(s), then bare_flow on the same backlog; prints worker/bare ratios",
    )
    args = parser.parse_args(argv)
    if args.with_bare and args.flow != "worker":
        parser.error("--with-bare runs both flows; leave --flow out")
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    asyncio.run(_run(args))
    return 0
