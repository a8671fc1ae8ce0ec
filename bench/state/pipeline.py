"""The whole pipeline's part of `python -m bench state`: worker RSS per new event (issue 24).

As a new user would try it: `pipeline ingress` and `pipeline worker` at the default window, one
Oktopost instance, one subscription to a receiver. Each phase POSTs `events` Oktopost webhooks,
every one a new occurrence (one unique event each, no resends), waits until the receiver has every
event the ingress accepted, and reads the worker's and the ingress's VmRSS.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
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


async def pipeline_part(
    bootstrap: str,
    phases: int,
    events: int,
    within: float,
    *,
    warmup: int = 0,
    probe: int | None = None,
) -> dict[str, Any]:
    """`warmup` unique events first, not measured: they fill the tables' fixed memory (the
    memtables' share of `PIPELINE_STATE_CACHE_MB`), the "warm" of "flat once warm".
    `probe`: None runs `pipeline worker`; a number runs it under `bench.state.probe` with
    that many tracemalloc frames (0: none) and probes it before and after each phase."""
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
        if stack.worker is None:
            raise RuntimeError("the stack was started without its worker")
        await receiver.ready(f"{receiver_url}/healthz")
        instances, secret = await register(stack, f"{receiver_url}/hook")
        factory = WebhookFactory(instances, UNIQUE_OKTOPOST, tag)
        worker_rss: list[float] = []
        ingress_rss: list[float] = []
        seconds: list[float] = []
        async with aiohttp.ClientSession() as session:
            await session.put(f"{receiver_url}/secret", data=secret)
            start_rss = rss_kib(stack.worker.pid) / 1024
            for done in range(0, warmup, events):
                count = min(events, warmup - done)
                await _phase(
                    session,
                    stack.base_url,
                    receiver_url=receiver_url,
                    factory=factory,
                    events=count,
                    deadline=deadline,
                )
            warm_rss = rss_kib(stack.worker.pid) / 1024
            if probe is not None:
                await probes.take("before", deadline)
            for phase in range(1, phases + 1):
                took = await _phase(
                    session,
                    stack.base_url,
                    receiver_url=receiver_url,
                    factory=factory,
                    events=events,
                    deadline=deadline,
                )
                seconds.append(took)
                worker_rss.append(round(rss_kib(stack.worker.pid) / 1024, 1))
                ingress_rss.append(round(rss_kib(stack.ingress.pid) / 1024, 1))
                if probe is not None:
                    await probes.take(f"phase {phase}", deadline)
        measured = {
            "events_per_phase": events,
            "phases": phases,
            "worker_rss_before_mib": round(start_rss, 1),
            "warmup_events": warmup,
            "worker_rss_after_warmup_mib": round(warm_rss, 1),
            "worker_rss_mib": worker_rss,
            "ingress_rss_mib": ingress_rss,
            "phase_delivered_s": seconds,
            "bytes_per_event_after_first": bytes_per_event(worker_rss, events),
            "bytes_per_event_slope_from_warm": slope_per_event(
                round(warm_rss, 1), worker_rss, events
            ),
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
