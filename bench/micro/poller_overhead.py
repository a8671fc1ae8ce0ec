"""Polling overhead: requests per instance per interval, and poller CPU per 100 instances.

Hootsuite simulator (in this process) → `pipeline poller` processes (subprocesses, so their CPU
time is their own; several share the instances through their consumer group) → the real local
broker. Instances are written straight to `config.instances` under a fresh topic prefix. For
each poller count three phases are measured: the pollers with no instances (their idle
baseline), then the instances with no state changes, then with one change per instance per
interval. CPU is the sum over the pollers, with each one's share.

    .venv/bin/python -m bench.micro.poller_overhead [--instances 100] [--interval 2]
        [--intervals 10] [--pollers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaProducer

from pipeline.config.instances import create_instance, encode_instance
from pipeline.contract.topics import Topic, load_manifest
from pipeline.health import broker_ready
from pipeline.ops import local_kafka
from pipeline.ops.topics_apply import apply_topics
from pipeline.settings import REPO_ROOT, Settings, load_settings
from pipeline.simulators.hootsuite import SimulatorState, create_simulator

CLIENT_ID, CLIENT_SECRET = "bench-app", "bench-secret"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """Counters at one moment: poller CPU seconds and simulator requests by endpoint."""

    at: float
    cpu: tuple[float, ...]  # per poller
    requests: Counter[str]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (fields 14 and 15 of `stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def write_instances(settings: Settings, url: str, count: int, interval: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(count):
            instance, _ = create_instance(
                {
                    "provider": "hootsuite",
                    "id": f"bench-{n}",
                    "polling": {
                        "enabled": True,
                        "interval_seconds": interval,
                        "api_base_url": url,
                        "social_profile_ids": [str(n)],
                    },
                    "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                }
            )
            topic = settings.topic(Topic.CONFIG_INSTANCES)
            await producer.send(topic, encode_instance(instance), key=instance.id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def start_poller(settings: Settings, log: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env |= {
        "PIPELINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PIPELINE_TOPIC_PREFIX": settings.topic_prefix,
        "PIPELINE_POLLER_PORT": str(port),
        "PIPELINE_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO_ROOT),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "poller"], env=env, stdout=out, stderr=out
        )


Pollers = list[subprocess.Popen[bytes]]


def sample(pollers: Pollers, state: SimulatorState) -> Sample:
    cpu = tuple(cpu_seconds(poller.pid) for poller in pollers)
    return Sample(time.monotonic(), cpu, Counter(state.requests))


async def until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the poller did not get going in time")
        await asyncio.sleep(0.1)


async def change_one_per_instance(state: SimulatorState, instances: int) -> None:
    """Send the next scheduled message of every instance (one state change each)."""
    for n in range(instances):
        profile = str(n)
        for message in state.messages.values():
            if message["socialProfile"]["id"] == profile and message["state"] == "SCHEDULED":
                state.set_state(message["id"], "SENT")
                break


async def measure(
    pollers: Pollers, state: SimulatorState, args: argparse.Namespace, changes: bool
) -> tuple[Sample, Sample]:
    first = sample(pollers, state)
    for _ in range(args.intervals):
        if changes:
            await change_one_per_instance(state, args.instances)
        await asyncio.sleep(args.interval)
    return first, sample(pollers, state)


def report(name: str, first: Sample, last: Sample, args: argparse.Namespace, idle: float) -> None:
    """One phase's figures; `idle` is the poller's CPU seconds per second with no instances."""
    seconds = last.at - first.at
    intervals = seconds / args.interval
    requests = last.requests - first.requests
    per_instance = sum(requests.values()) / args.instances / intervals
    each = [b - a for a, b in zip(first.cpu, last.cpu, strict=True)]
    cpu = sum(each)
    shares = "/".join(f"{100 * part / cpu:.0f}%" for part in each) if cpu else "-"
    per_100 = cpu / intervals * 100 / args.instances
    net_per_100 = (cpu - idle * seconds) / intervals * 100 / args.instances
    print(  # noqa: T201 - a benchmark prints its numbers
        f"{name:<11} requests/instance/interval {per_instance:.2f} "
        f"({', '.join(f'{k}={v}' for k, v in sorted(requests.items()))}); "
        f"CPU s per 100 instances per interval {per_100:.3f} "
        f"({net_per_100:.3f} without the idle baseline; {cpu:.2f}s over {intervals:.1f} intervals"
        f"; per poller {shares})"
    )


def seed(state: SimulatorState, instances: int, messages: int) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    for n in range(instances):
        for m in range(messages):
            state.add_message(soon + timedelta(minutes=m), social_profile_id=str(n))


async def serve_simulator(state: SimulatorState) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_simulator(state), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def idle_cpu(pollers: Pollers, ports: list[int], seconds: float) -> float:
    """CPU seconds per second of ready pollers with nothing to poll (views, probes, reconcile)."""
    async with aiohttp.ClientSession() as session:
        for port in ports:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.2)
    before = sum(cpu_seconds(poller.pid) for poller in pollers)
    await asyncio.sleep(seconds)
    return (sum(cpu_seconds(poller.pid) for poller in pollers) - before) / seconds


async def run(args: argparse.Namespace, settings: Settings, logs: Path, count: int) -> None:
    state = SimulatorState({CLIENT_ID: CLIENT_SECRET})
    seed(state, args.instances, args.messages)
    runner, url = await serve_simulator(state)
    ports = [free_port() for _ in range(count)]
    pollers = [start_poller(settings, logs / f"poller-{n}.log", p) for n, p in enumerate(ports)]
    try:
        idle = await idle_cpu(pollers, ports, args.interval * args.intervals)
        print(f"{count} poller(s): idle CPU s per second with no instances {idle:.4f}")  # noqa: T201
        await write_instances(settings, url, args.instances, args.interval)
        # The first sync (every message reported once) is not measured.
        await until(lambda: state.requests["messages"] >= 2 * args.instances, 300)
        await asyncio.sleep(args.interval)
        report("no changes", *await measure(pollers, state, args, changes=False), args, idle)
        report("changes", *await measure(pollers, state, args, changes=True), args, idle)
    finally:
        for poller in pollers:
            poller.send_signal(signal.SIGTERM)
        for poller in pollers:
            await asyncio.to_thread(poller.wait, 30)
        await runner.cleanup()


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [
        line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line
    ]
    model = models[0] if models else platform.machine()
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20, help="per instance, in the window")
    parser.add_argument("--interval", type=float, default=2.0, help="polling interval, seconds")
    parser.add_argument("--intervals", type=int, default=10, help="intervals per phase")
    parser.add_argument("--pollers", default="1,2", help="poller counts to compare")
    args = parser.parse_args()
    kafka = local_kafka.LocalKafka.from_settings(load_settings())
    started, _ = asyncio.run(local_kafka.start(kafka))
    try:
        print(  # noqa: T201
            f"machine: {machine()}; {args.instances} instances x "
            f"{args.messages} messages, interval {args.interval}s, {args.intervals} intervals/phase"
        )
        for count in (int(n) for n in args.pollers.split(",")):
            # A fresh prefix per poller count: the first sync is the same for each.
            settings = load_settings(topic_prefix=f"bench{uuid.uuid4().hex[:8]}.")
            if not asyncio.run(broker_ready(settings.kafka_bootstrap)):
                raise SystemExit(f"no broker at {settings.kafka_bootstrap}")
            asyncio.run(apply_topics(settings.kafka_bootstrap, load_manifest(settings)))
            logs = Path(tempfile.mkdtemp(prefix="poller-bench-"))
            print(f"poller logs: {logs}")  # noqa: T201
            asyncio.run(run(args, settings, logs, count))
    finally:
        if started:
            asyncio.run(local_kafka.stop(kafka))


if __name__ == "__main__":
    main()
