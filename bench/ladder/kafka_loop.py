"""Baseline: bare aiokafka produce → consume → produce → consume, a process of its own:

    python -m bench.ladder.kafka_loop SPEC.json OUT.json

A source producer writes records the size of `webhooks.raw` envelopes (acks=all, idempotent, one
awaited send per record as the ingress does, `window` in flight); a relay consumes them and writes
records the size of a CloudEvent to a second topic (batched per poll, committed after the acks);
a sink consumes those. The time from the source's send to the sink is this machine's Kafka client
limit for one hop of the pipeline, measured on the same broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import struct
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.stats import summarize

STAMP = struct.Struct("<d")
PARTITIONS = 4


@dataclass(frozen=True)
class LoopSpec:
    bootstrap: str
    prefix: str
    records: int
    rate: float | None  # None: as fast as `window` awaited sends allow
    first_size: int
    second_size: int
    fetch_max_wait_ms: int = 500  # aiokafka's default; faust's consumer uses 1500
    window: int = 64
    deadline: float = 60.0

    @classmethod
    def from_json(cls, raw: bytes) -> LoopSpec:
        return cls(**orjson.loads(raw))

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))


@dataclass
class Observed:
    sent: list[float] = field(default_factory=list)
    acked: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    last_arrival: float = 0.0


def padded(stamp: float, size: int) -> bytes:
    return STAMP.pack(stamp) + b"x" * max(0, size - STAMP.size)


async def create_topics(spec: LoopSpec) -> tuple[str, str]:
    names = (f"{spec.prefix}loop.first", f"{spec.prefix}loop.second")
    admin = AIOKafkaAdminClient(bootstrap_servers=spec.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    finally:
        await admin.close()
    return names


def producer(spec: LoopSpec) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=spec.bootstrap, acks="all", enable_idempotence=True)


def consumer(spec: LoopSpec, topic: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=spec.bootstrap,
        group_id=f"{topic}.{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=spec.fetch_max_wait_ms,
    )


async def source(spec: LoopSpec, topic: str, out: Observed) -> None:
    sender = producer(spec)
    await sender.start()
    window = asyncio.Semaphore(spec.window)
    begin = time.monotonic()

    async def one(number: int) -> None:
        async with window:
            sent = time.monotonic()
            key = b"instance-a" if number % 2 else b"instance-b"  # as webhooks.raw: 2 instances
            await sender.send_and_wait(topic, padded(sent, spec.first_size), key=key)
            out.sent.append(sent)
            out.acked.append(time.monotonic() - sent)

    try:
        tasks = []
        for number in range(spec.records):
            if spec.rate:
                await asyncio.sleep(max(0.0, begin + number / spec.rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(number)))
            if not spec.rate and len(tasks) % spec.window == 0:
                await asyncio.sleep(0)
        await asyncio.gather(*tasks)
    finally:
        await sender.stop()


async def relay(spec: LoopSpec, first: str, second: str) -> None:
    reader, writer = consumer(spec, first), producer(spec)
    await reader.start()
    await writer.start()
    try:
        while True:
            batches = await reader.getmany(timeout_ms=100, max_records=500)
            acks = []
            for records in batches.values():
                for record in records:
                    (stamp,) = STAMP.unpack_from(record.value)
                    value = padded(stamp, spec.second_size)
                    acks.append(await writer.send(second, value, key=uuid.uuid4().bytes))
            if acks:
                await asyncio.gather(*acks)
                await reader.commit()
    finally:
        await reader.stop()
        await writer.stop()


async def sink(spec: LoopSpec, second: str, out: Observed) -> None:
    reader = consumer(spec, second)
    await reader.start()
    try:
        while len(out.latency) < spec.records:
            batches = await reader.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    out.latency.append(now - STAMP.unpack_from(record.value)[0])
                    out.last_arrival = now
    finally:
        await reader.stop()


async def run(spec: LoopSpec) -> dict[str, Any]:
    first, second = await create_topics(spec)
    out = Observed()
    relaying = asyncio.create_task(relay(spec, first, second))
    sinking = asyncio.create_task(sink(spec, second, out))
    await asyncio.sleep(3.0)  # both consumer groups join before the first record
    cpu_before = _cpu()
    try:
        await asyncio.wait_for(
            asyncio.gather(source(spec, first, out), sinking), timeout=spec.deadline
        )
    except TimeoutError:
        pass
    finally:
        relaying.cancel()
        sinking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(relaying, sinking, return_exceptions=True)
    cpu = _cpu() - cpu_before
    span = (out.last_arrival - min(out.sent)) if out.sent and out.latency else 0.0
    return {
        "records": spec.records,
        "delivered": len(out.latency),
        "rate_offered": spec.rate,
        "fetch_max_wait_ms": spec.fetch_max_wait_ms,
        "throughput_per_s": round(len(out.latency) / span, 1) if span else 0.0,
        "end_to_end_seconds": summarize(out.latency),
        "produce_ack_seconds": summarize(out.acked),
        "cpu_seconds_per_1000": round(1000 * cpu / max(1, len(out.latency)), 3),
        "record_bytes": [spec.first_size, spec.second_size],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    spec = LoopSpec.from_json(Path(argv[0]).read_bytes())
    Path(argv[1]).write_bytes(orjson.dumps(asyncio.run(run(spec))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
