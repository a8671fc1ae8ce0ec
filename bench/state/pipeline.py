"""The whole pipeline's part of `python -m bench state`: worker RSS per new event (issue 24).

As a new user would try it: `pipeline ingress` and `pipeline worker` at the default window, one
Oktopost instance, one subscription to a receiver. Each phase POSTs `events` Oktopost webhooks,
every one a new occurrence (one unique event each, no resends), waits until the receiver has every
event the ingress accepted, and reads the worker's and the ingress's VmRSS: once at once (busy:
the memtables hold what the phase wrote) and once at rest, after the worker's next table-expiry
run (it flushes the memtables written since the last one, then hands malloc's free pages back).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.broker import create_topics, delete_session_topics
from bench.children import Child, clean_env, free_port
from bench.payloads import Mix, WebhookFactory
from bench.procstat import rss_kib
from bench.stack import register, session_settings, start_stack
from bench.state.figures import bytes_per_event, growth_by_part, slope_per_event

CLIENTS = 16
POLL_SECONDS = 0.5
EXPIRY_RUN = re.compile(
    rb'^pipeline_table_last_expiry_timestamp_seconds\{table="(\w+)"\} (\S+)$', re.M
)
# An expiry run that ends this long after the phase began after it (a run without expired
# buckets to compact takes milliseconds).
RUN_STARTED_AFTER_S = 1.0
UNIQUE_OKTOPOST = Mix(duplicate_share=0.0, hootsuite_share=0.0)


async def _post(
    session: aiohttp.ClientSession, base_url: str, factory: WebhookFactory, count: int
) -> set[str]:
    """POST `count` new webhooks; the event ids the ingress accepted (202)."""
    accepted: set[str] = set()
    requests = iter([factory.next() for _ in range(count)])

    async def client() -> None:
        for request in requests:
            async with session.post(
                base_url + request.path, data=request.body, headers=request.headers
            ) as response:
                if response.status == 202:  # accepted
                    accepted.update(request.event_ids)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return accepted


async def _delivered(
    session: aiohttp.ClientSession, receiver_url: str, expected: set[str], deadline: float
) -> float:
    """Poll the receiver until it has every `expected` event id; the seconds it took."""
    started = time.monotonic()
    missing = set(expected)
    since = 0
    while missing:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} of {len(expected)} events not delivered in time")
        async with session.get(f"{receiver_url}/records", params={"since": str(since)}) as answer:
            received = await answer.json()
        missing.difference_update(received["event_ids"])
        since = received["next"]
        if missing:
            await asyncio.sleep(POLL_SECONDS)
    return time.monotonic() - started


async def _at_rest(
    session: aiohttp.ClientSession, metrics_url: str, since: float, deadline: float
) -> None:
    """Poll the worker's metrics until every table's expiry ran after `since` (Unix time), and
    one poll interval more (the worker trims malloc right after the run)."""
    while True:
        async with session.get(metrics_url) as answer:
            runs = {m[1]: float(m[2]) for m in EXPIRY_RUN.finditer(await answer.read())}
        if runs and min(runs.values()) > since + RUN_STARTED_AFTER_S:
            await asyncio.sleep(POLL_SECONDS)
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no table expiry run after the phase in time: {runs}")
        await asyncio.sleep(POLL_SECONDS)


class Probes:
    """Asks a worker started as `bench.state.probe` for a probe and reads it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.request = path.with_name(path.name + ".request")
        self.taken: list[dict[str, Any]] = []

    async def take(self, label: str, deadline: float) -> None:
        with self.request.open("a") as out:
            out.write(label + "\n")
        while time.monotonic() < deadline:
            if self.path.exists():
                lines = self.path.read_bytes().splitlines()
                if len(lines) > len(self.taken):
                    self.taken.append(orjson.loads(lines[len(self.taken)]))
                    return
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"no probe {label!r} from the worker in time")


async def _phase(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    receiver_url: str,
    factory: WebhookFactory,
    events: int,
    deadline: float,
) -> float:
    """POST `events` unique webhooks and wait until all are delivered; the seconds that took."""
    expected = await _post(session, base_url, factory, events)
    if len(expected) != events:
        raise RuntimeError(f"{len(expected)} of {events} webhooks accepted")
    return round(await _delivered(session, receiver_url, expected, deadline), 1)


@dataclass
class Readings:
    """The worker's RSS (MiB) busy (as a phase's last event is delivered) and at rest (after the
    next table-expiry run), the warm point first; the ingress's RSS and each phase's seconds."""

    busy: list[float] = field(default_factory=list)
    at_rest: list[float] = field(default_factory=list)
    ingress: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def figures(self, events: int) -> dict[str, Any]:
        busy, at_rest = self.busy[1:], self.at_rest[1:]
        return {
            "worker_rss_after_warmup_mib": self.busy[0],
            "worker_rss_mib": busy,
            "worker_rss_at_rest_after_warmup_mib": self.at_rest[0],
            "worker_rss_at_rest_mib": at_rest,
            "ingress_rss_mib": self.ingress,
            "phase_delivered_s": self.seconds,
            "bytes_per_event_after_first": bytes_per_event(busy, events),
            "bytes_per_event_slope_from_warm": slope_per_event(self.busy[0], busy, events),
            "at_rest_bytes_per_event_after_first": bytes_per_event(at_rest, events),
            "at_rest_bytes_per_event_slope_from_warm": slope_per_event(
                self.at_rest[0], at_rest, events
            ),
        }


def _mib(pid: int) -> float:
    return round(rss_kib(pid) / 1024, 1)


async def pipeline_part(
    bootstrap: str,
    phases: int,
    events: int,
    within: float,
    *,
    warmup: int = 0,
    probe: int | None = None,
) -> dict[str, Any]:
    """`warmup` unique events first, not measured: they fill the tables' fixed memory (block
    cache, memtables, malloc's pools), the "warm" of "flat once warm".
    `probe`: None runs `pipeline worker`; a number runs it under `bench.state.probe` with
    that many tracemalloc frames (0: none) and probes it at rest when warm and after each phase."""
    work = Path(tempfile.mkdtemp(prefix="bench-state-pipeline-"))
    tag = uuid.uuid4().hex[:6]
    settings = session_settings(bootstrap, work, tag)
    deadline = time.monotonic() + within
    await create_topics(settings)
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    receiver = Child("receiver", ["bench.receiver", str(port)], work, clean_env()).start()
    probes = Probes(work / "probes.jsonl")
    argv = ("pipeline", "worker")
    if probe is not None:
        argv = ("bench.state.probe", str(probes.path), "--tracemalloc", str(probe))
    stack = await start_stack(settings, work, {}, worker_argv=argv)
    try:
        worker = stack.worker
        if worker is None:
            raise RuntimeError("the stack was started without its worker")
        await receiver.ready(f"{receiver_url}/healthz")
        instances, secret = await register(stack, f"{receiver_url}/hook")
        factory = WebhookFactory(instances, UNIQUE_OKTOPOST, tag)
        metrics_url = f"http://127.0.0.1:{settings.worker_web_port}/metrics"
        readings = Readings()
        async with aiohttp.ClientSession() as session:
            await session.put(f"{receiver_url}/secret", data=secret)
            start_rss = _mib(worker.pid)

            async def read(phase: int) -> None:
                readings.busy.append(_mib(worker.pid))
                await _at_rest(session, metrics_url, time.time(), deadline)
                readings.at_rest.append(_mib(worker.pid))
                if probe is not None:
                    await probes.take(f"phase {phase}" if phase else "before", deadline)

            for done in range(0, warmup, events):
                await _phase(
                    session,
                    stack.base_url,
                    receiver_url=receiver_url,
                    factory=factory,
                    events=min(events, warmup - done),
                    deadline=deadline,
                )
            await read(0)
            for phase in range(1, phases + 1):
                took = await _phase(
                    session,
                    stack.base_url,
                    receiver_url=receiver_url,
                    factory=factory,
                    events=events,
                    deadline=deadline,
                )
                readings.seconds.append(took)
                readings.ingress.append(_mib(stack.ingress.pid))
                await read(phase)
        measured = {
            "events_per_phase": events,
            "phases": phases,
            "worker_rss_before_mib": start_rss,
            "warmup_events": warmup,
            **readings.figures(events),
        }
        if probe is not None:
            first, last = probes.taken[1], probes.taken[-1]  # after phase 1, after the last
            measured |= {
                "growth_by_part_bytes_per_event": growth_by_part(first, last, events * (phases - 1))
                if phases > 1
                else None,
                "probe_tracemalloc_frames": probe,
                "probes": probes.taken,
            }
    finally:
        await stack.stop()
        await receiver.stop()
        await delete_session_topics(bootstrap, f"bench{tag}")
    shutil.rmtree(work, ignore_errors=True)  # kept, with the logs, when the part failed
    return measured
