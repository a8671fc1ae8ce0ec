"""The fault of one soak round: SIGKILL one process of the soak's stack, restart it at once, and
note when it was killed, restarted and ready again (`time.monotonic()`).

Only the soak's own processes are ever signalled: its children by their `Popen`, and its broker
by the pid its own home's pid file names — and only after checking that the process's command
line reads that home's `server.properties`, so a shared broker on this machine is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.soak.config import BROKER, INGRESS, POLLER, WORKER, WORKER_OF_TWO
from bench.soak.stack import SoakStack
from pipeline.errors import LocalKafkaError
from pipeline.ops import local_kafka

EXIT_WITHIN = 15.0  # seconds for a SIGKILLed process to be gone


@dataclass(frozen=True)
class Fault:
    kind: str
    target: str
    killed_at: float
    restarted_at: float
    ready_at: float | None
    killed_wall: float  # epoch seconds, against Kafka's record timestamps
    error: str | None = None

    @property
    def ready_s(self) -> float | None:
        return None if self.ready_at is None else round(self.ready_at - self.restarted_at, 2)

    def to_dict(self, origin: float) -> dict[str, Any]:
        """Times as seconds after `origin` (the load's start)."""
        values = asdict(self)
        for key in ("killed_at", "restarted_at", "ready_at"):
            if values[key] is not None:
                values[key] = round(values[key] - origin, 2)
        values["ready_s"] = self.ready_s
        return values


def target_of(stack: SoakStack, kind: str, draw: random.Random) -> str:
    if kind == WORKER_OF_TWO:
        return draw.choice(stack.workers)
    return {WORKER: "worker-1", INGRESS: "ingress", POLLER: "poller", BROKER: "broker"}[kind]


async def inject(stack: SoakStack, kind: str, draw: random.Random) -> Fault:
    target = target_of(stack, kind, draw)
    if target == BROKER:
        return await _broker(stack, kind)
    child = stack.children[target]
    killed_at, killed_wall = time.monotonic(), time.time()
    child.kill()  # SIGKILL and reap: its pid is ours
    restarted_at = time.monotonic()
    try:
        await stack.launch(target)
    except (RuntimeError, TimeoutError) as exc:
        error = str(exc).splitlines()[0]
        return Fault(kind, target, killed_at, restarted_at, None, killed_wall, error)
    return Fault(kind, target, killed_at, restarted_at, time.monotonic(), killed_wall)


def _our_broker_pid(kafka: local_kafka.LocalKafka) -> int:
    pid = kafka.running_pid()
    if pid is None:
        raise RuntimeError(f"the soak's broker ({kafka.home}) is not running")
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    if str(kafka.home / "server.properties").encode() not in cmdline:
        raise RuntimeError(f"pid {pid} is not the soak's broker; not killing it")
    return pid


def _reaped(pid: int) -> bool:
    """Whether `pid` is gone; reaps it if it is our exited child (the broker is)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return not Path(f"/proc/{pid}").exists()


async def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _reaped(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def _broker(stack: SoakStack, kind: str) -> Fault:
    kafka = stack.kafka
    pid = _our_broker_pid(kafka)
    killed_at, killed_wall = time.monotonic(), time.time()
    os.kill(pid, signal.SIGKILL)
    if not await _gone(pid, EXIT_WITHIN):
        raise RuntimeError(f"broker pid {pid} survived SIGKILL for {EXIT_WITHIN:.0f}s")
    restarted_at = time.monotonic()
    try:
        started, message = await local_kafka.start(kafka)
    except LocalKafkaError as exc:
        message, started = str(exc).splitlines()[0], False
    if not started:
        return Fault(kind, BROKER, killed_at, restarted_at, None, killed_wall, message)
    return Fault(kind, BROKER, killed_at, restarted_at, time.monotonic(), killed_wall)
