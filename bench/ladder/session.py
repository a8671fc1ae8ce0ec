"""A whole bench session: broker, receiver, baselines, pipeline, runs, the worker against bare_flow,
peers, in that order.

Everything runs on 127.0.0.1 under a fresh temp dir, with its own broker, topic prefix and ports;
every process is stopped and the temp dir removed at the end (kept, and named, after a failure).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.broker import create_topics, start_broker, stop_broker
from bench.children import Child, free_port
from bench.environment import machine, versions
from bench.ladder import baselines, flows, ingress_runs, pipeline_runs
from bench.ladder.config import BenchConfig
from bench.ladder.deliveries import Deliveries
from bench.ladder.runs import Harness, Run, measure
from bench.ladder.tables import summary_line
from bench.payloads import Instances
from bench.peers import main as peer
from bench.stack import Stack, register, session_settings, start_stack

SHUTDOWN_RESERVE = 60.0  # seconds kept back from the budget for stopping everything


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa: T201


async def start_child(name: str, argv: list[str], logs: Path, base_url: str) -> Child:
    child = Child(name, argv, logs).start()
    await child.ready(f"{base_url}/healthz", within=30.0)
    return child


async def measure_all(harness: Harness, runs: list[Run], results: dict[str, Any]) -> None:
    """Measure each run that fits in the remaining budget; record the others as skipped."""
    for run in runs:
        if harness.remaining() - SHUTDOWN_RESERVE < run.cost(harness.config):
            results["skipped"].append({"name": run.name, "reason": "time budget"})
            log(f"skip {run.name}: not enough of the time budget left")
            continue
        log(f"run {run.name}")
        result = await measure(harness, run)
        results["runs"].append(result)
        log(summary_line(result))


async def run_session(config: BenchConfig) -> dict[str, Any]:
    began = time.monotonic()  # the budget counts from here, broker start included
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix=f"bench-{stamp}-"))
    (work / "logs").mkdir()
    config.results_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "stamp": stamp,
        "config": {**asdict(config), "results_dir": str(config.results_dir)},
        "machine": machine(),
        "versions": versions(),
        "runs": [],
        "skipped": [],
    }
    try:
        receiver = Deliveries(f"http://127.0.0.1:{free_port()}")
        harness = Harness(config, work, stamp, receiver, began)
        async with contextlib.AsyncExitStack() as cleanup:
            await _session(config, harness, results, cleanup)
    except BaseException:
        log(f"failed; logs kept in {work / 'logs'}")
        raise
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    shutil.rmtree(work, ignore_errors=True)
    return results


@dataclass(frozen=True)
class Started:
    """The session's running processes and what registering produced."""

    stack: Stack
    instances: Instances
    secret: str  # the subscription's signing secret
    bootstrap: str
    broker_pid: int
    receiver: Child
    bare: Child
    bare_url: str


async def _start(harness: Harness, cleanup: contextlib.AsyncExitStack) -> Started:
    """Broker, topics, receiver, bare server, ingress and worker; instances and subscription."""
    work, logs = harness.work, harness.logs
    log(f"starting an isolated Kafka broker under {work}")
    kafka = await start_broker(work / "kafka")
    cleanup.push_async_callback(stop_broker, kafka)
    settings = session_settings(kafka.bootstrap, work, uuid.uuid4().hex[:6])
    await create_topics(settings)
    receiver_url, bare_port = harness.deliveries.base_url, free_port()
    receiver = await start_child(
        "receiver", ["bench.receiver", receiver_url.rpartition(":")[2]], logs, receiver_url
    )
    cleanup.push_async_callback(receiver.stop)
    bare_url = f"http://127.0.0.1:{bare_port}"
    bare = await start_child(
        "bare_server", ["bench.ladder.bare_server", str(bare_port)], logs, bare_url
    )
    cleanup.push_async_callback(bare.stop)
    log(f"starting pipeline ingress and worker (broker {kafka.bootstrap})")
    stack = await start_stack(
        settings, logs, harness.config.env, worker=not harness.config.ingress_only
    )
    cleanup.push_async_callback(stack.stop)
    instances, secret = await register(stack, f"{receiver_url}/hook")
    await harness.deliveries.set_secret(secret)
    broker_pid = kafka.running_pid()
    if broker_pid is None:
        raise RuntimeError("the broker's pid file is gone")
    return Started(stack, instances, secret, kafka.bootstrap, broker_pid, receiver, bare, bare_url)


async def _session(
    config: BenchConfig,
    harness: Harness,
    results: dict[str, Any],
    cleanup: contextlib.AsyncExitStack,
) -> None:
    started = await _start(harness, cleanup)
    await pipeline_runs.warm_up(harness, started.stack, started.instances)
    if config.ingress_only:
        await _ingress_session(config, harness, results, started)
        return
    if config.baselines:
        log("baseline: bare aiokafka produce → consume → produce loop")
        results["kafka_loop"] = await baselines.kafka_loop(harness, started.bootstrap)
        log("bare aiohttp and the ingress alone (a second ingress, no worker on its topics)")
        await _ingress_alone(harness, results, started)
        receiver_url, receiver_pid = harness.deliveries.base_url, started.receiver.pid
        deliveries = baselines.delivery_runs(harness, receiver_url, receiver_pid, started.secret)
        await measure_all(harness, deliveries, results)
    ladder = pipeline_runs.Ladder(
        harness, started.stack, started.instances, started.broker_pid, started.receiver.pid
    )
    for rate in config.rates:
        run = ladder.run_for(rate)
        await measure_all(harness, [run], results)
        if results["runs"] and results["runs"][-1]["name"] == run.name:
            ladder.observe(results["runs"][-1])
    await measure_all(harness, [ladder.max_run(results["runs"])], results)
    log("waiting for every accepted event (within the budget) to count losses and duplicates")
    # the wait leaves the stages after it their time
    reserve = SHUTDOWN_RESERVE + _flows_cost(config) + _peer_cost(config)
    results["final"] = await pipeline_runs.final_check(harness, results, reserve)
    log(f"final: {results['final']}")
    if config.flow_drains:
        await _flows(harness, results, started)
    if config.peer:
        await _peer(harness, results, started)


def _flows_cost(config: BenchConfig) -> float:
    return flows.estimated_seconds(config.flow_drains, config.flow_webhooks)


async def _flows(harness: Harness, results: dict[str, Any], started: Started) -> None:
    """The worker against bare_flow, each draining the same backlogs (`bench.ladder.flows`),
    with the session's ingress and worker stopped."""
    config = harness.config
    if harness.remaining() - SHUTDOWN_RESERVE < _flows_cost(config):
        results["skipped"].append({"name": "flows", "reason": "not enough of the time budget left"})
        log("skip the worker against bare_flow: not enough of the time budget left")
        return
    await started.stack.stop()
    log(f"the worker against bare_flow: {config.flow_drains} drains of {config.flow_webhooks}")
    results["flows"] = await flows.run_flows(
        started.bootstrap,
        drains=config.flow_drains,
        webhooks=config.flow_webhooks,
        env=config.env,
        log=log,
    )


def _peer_cost(config: BenchConfig) -> float:
    if not config.peer or not peer.quix_installed():
        return 0.0
    return peer.estimated_seconds(config.peer_webhooks, config.peer_repeat)


async def _peer(harness: Harness, results: dict[str, Any], started: Started) -> None:
    """Last: the worker's normalize+dedup stage against Quix Streams and a bare aiokafka loop
    on a backlog of their own (bench/peers/main.py), skipped when quixstreams is not installed."""
    config = harness.config
    if not peer.quix_installed():
        reason = peer.QUIX_MISSING
    elif harness.remaining() - SHUTDOWN_RESERVE < _peer_cost(config):
        reason = "not enough of the time budget left"
    else:
        await started.stack.stop()  # the session's ingress and worker are done; the peers run alone
        work = harness.work / "peer"
        work.mkdir()
        log(f"peer: the normalize+dedup stage, pipeline vs Quix Streams vs bare (under {work})")
        results["peer"] = await peer.run_peer(
            started.bootstrap,
            work,
            webhooks=config.peer_webhooks,
            repeat=config.peer_repeat,
            env=config.env,
            log=log,
            mix=config.mix,
        )
        return
    results["skipped"].append({"name": "peer", "reason": reason})
    log(f"skip peer: {reason}")


async def _ingress_session(
    config: BenchConfig, harness: Harness, results: dict[str, Any], started: Started
) -> None:
    """No worker: bare aiohttp and the session's only ingress, rate by rate, then their maxima."""
    bare = (started.bare_url, started.bare.pid)
    stack, instances, broker = started.stack, started.instances, started.broker_pid
    for pair in ingress_runs.pairs(harness, stack, instances, broker, bare):
        await measure_all(harness, pair, results)


async def _ingress_alone(harness: Harness, results: dict[str, Any], started: Started) -> None:
    """Bare aiohttp paired with a second ingress on topics no worker reads (its own figures)."""
    bare = (started.bare_url, started.bare.pid)
    receiver = harness.deliveries.base_url
    async with ingress_runs.alone_stack(harness, started.bootstrap, receiver) as (stack, instances):
        for pair in ingress_runs.pairs(harness, stack, instances, started.broker_pid, bare):
            await measure_all(harness, pair, results)
