"""The load generator, a process of its own: `python -m bench.loadgen SPEC.json OUT.json`.

Open-loop (a `rate`): request i is due at `begin + i / rate` whatever happened to earlier ones, and
its latency counts from that due time, so a stalled server shows up as latency instead of silently
lowering the offered load (no coordinated omission). Closed-loop (`rate` None): `concurrency`
clients send back to back for `duration` seconds, the maximum-throughput run. Times are
`time.monotonic()` (CLOCK_MONOTONIC, one clock for every process on the machine), so they can be
joined with the receiver's arrival times.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.payloads import DeliveryFactory, Instances, Mix, Request, WebhookFactory

YIELD_EVERY = 32  # when behind schedule, let responses be handled at least this often


@dataclass(frozen=True)
class LoadSpec:
    """One run of the generator; written to a file by the session, read here."""

    base_url: str
    kind: str  # "webhooks" (provider requests) or "deliveries" (signed CloudEvents)
    rate: float | None  # requests/s open-loop; None: closed-loop at `concurrency`
    duration: float
    tag: str
    mix: Mix = field(default_factory=Mix)
    instances: Instances | None = None
    secret: str | None = None  # deliveries: the subscription's signing secret
    connections: int = 256
    concurrency: int = 64
    timeout: float = 15.0

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> LoadSpec:
        values: dict[str, Any] = orjson.loads(raw)
        values["mix"] = Mix(**values["mix"])
        if values["instances"] is not None:
            values["instances"] = Instances(**values["instances"])
        return cls(**values)


@dataclass
class Record:
    """Per request, in columns: due, started, finished (monotonic s), status (0: no answer)."""

    due: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    duplicate: list[bool] = field(default_factory=list)
    event_ids: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, request: Request, due: float, started: float, status: int) -> None:
        self.due.append(due)
        self.started.append(started)
        self.finished.append(time.monotonic())
        self.status.append(status)
        self.duplicate.append(request.duplicate)
        self.event_ids.append(request.event_ids)


Send = Callable[[Request, float], Coroutine[Any, Any, None]]


def factory_for(spec: LoadSpec) -> WebhookFactory | DeliveryFactory:
    if spec.kind == "deliveries":
        return DeliveryFactory(spec.secret or "", spec.mix, spec.tag)
    if spec.instances is None:
        raise ValueError("a webhooks run needs the instances")
    return WebhookFactory(spec.instances, spec.mix, spec.tag)


async def open_loop(spec: LoadSpec, factory: WebhookFactory | DeliveryFactory, send: Send) -> None:
    rate = spec.rate or 1.0
    begin = time.monotonic() + 0.2
    pending: set[asyncio.Task[None]] = set()
    for number in range(int(rate * spec.duration)):
        due = begin + number / rate
        request = factory.next()
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif number % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        task = asyncio.create_task(send(request, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)


async def closed_loop(
    spec: LoadSpec, factory: WebhookFactory | DeliveryFactory, send: Send
) -> None:
    stop_at = time.monotonic() + spec.duration

    async def client() -> None:
        while time.monotonic() < stop_at:
            await send(factory.next(), time.monotonic())

    await asyncio.gather(*(client() for _ in range(spec.concurrency)))


async def generate(spec: LoadSpec) -> Record:
    record = Record()
    connector = aiohttp.TCPConnector(limit=spec.connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(request: Request, due: float) -> None:
            started = time.monotonic()
            status = 0
            url = spec.base_url + request.path
            try:
                async with session.post(url, data=request.body, headers=request.headers) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, OSError):
                status = 0  # TimeoutError is an OSError: no answer within spec.timeout
            record.add(request, due, started, status)

        factory = factory_for(spec)
        loop = open_loop if spec.rate else closed_loop
        await loop(spec, factory, send)
    return record


def main(argv: list[str]) -> int:
    spec = LoadSpec.from_json(Path(argv[0]).read_bytes())
    record = asyncio.run(generate(spec))
    Path(argv[1]).write_bytes(orjson.dumps(asdict(record)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
