"""One peer run, measured from outside the runner: its CPU, its output topic, its commits.

The runner (the worker, Quix Streams or the bare loop) is a child process. From its start this
samples its CPU (`bench.procstat`, the whole process tree) and polls its output topic's end
offsets until the expected number of events is there; then waits until its consumer group has
committed the whole backlog, stops it, and reads back every record it wrote (the broker's append
time and the event id) for `bench.peers.figures`. Nothing here knows how a runner works inside.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.children import Child
from bench.peers.figures import Observed, Output, Sample, all_committed
from bench.procstat import cpu_seconds

POLL_SECONDS = 0.2  # CPU is interpolated between samples, so this bounds nothing but the wait
COMMIT_WAIT_SECONDS = 30.0  # Quix commits every 5 s by default, faust every second
LOG_APPEND_TIME = 1  # a record's timestamp_type when the broker stamped it (bench/peers/backlog.py)


@dataclass(frozen=True)
class Target:
    """A runner ready to start: its process, the topic it writes and the group it reads as."""

    runner: str
    child: Child
    output: str
    group: str


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    try:
        await client.bootstrap()
        cluster = await client.fetch_all_metadata()
    finally:
        await client.close()
    numbers = cluster.partitions_for_topic(topic) or set()
    if not numbers:
        raise RuntimeError(f"topic {topic} has no partitions on {bootstrap}")
    return [TopicPartition(topic, number) for number in sorted(numbers)]


async def _until_written(
    reader: AIOKafkaConsumer,
    target: Target,
    start: dict[TopicPartition, int],
    expected: int,
    deadline: float,
) -> tuple[str, list[Sample]]:
    """Sample CPU and count outputs until `expected` are written, the deadline, or an exit."""
    samples: list[Sample] = []
    limit = time.monotonic() + deadline
    while True:
        samples.append((time.time(), cpu_seconds(target.child.pid)))
        ends = await reader.end_offsets(list(start))
        if sum(ends[tp] - start[tp] for tp in start) >= expected:
            return "complete", samples
        if target.child.exited() is not None:
            return "exited", samples
        if time.monotonic() > limit:
            return "deadline", samples
        await asyncio.sleep(POLL_SECONDS)


async def _until_committed(
    bootstrap: str, group: str, ends: dict[TopicPartition, int], within: float
) -> bool:
    """Whether `group` commits `ends` (every partition of the backlog) within `within` seconds."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        limit = time.monotonic() + within
        while time.monotonic() < limit:
            answer = await admin.list_consumer_group_offsets(group, partitions=list(ends))
            committed = {tp: meta.offset for tp, meta in answer.items()}
            if all_committed(ends, committed):
                return True
            await asyncio.sleep(POLL_SECONDS)
        return False
    finally:
        await admin.close()


async def read_outputs(bootstrap: str, start: dict[TopicPartition, int]) -> list[Output]:
    """(timestamp, event id) of every record written since `start`, up to the current end."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign(list(start))
        ends = await reader.end_offsets(list(start))
        for tp, offset in start.items():
            reader.seek(tp, offset)
        outputs: list[Output] = []
        while [tp for tp in start if await reader.position(tp) < ends[tp]]:
            for tp, records in (await reader.getmany(timeout_ms=500)).items():
                for record in records:
                    if record.timestamp_type != LOG_APPEND_TIME:
                        raise RuntimeError(f"{tp.topic} is not stamped on append: no figures")
                    if record.offset < ends[tp]:
                        outputs.append((record.timestamp / 1000, orjson.loads(record.value)["id"]))
        return outputs
    finally:
        await reader.stop()


async def observe(
    target: Target, bootstrap: str, source: str, expected: int, deadline: float
) -> Observed:
    """Start the runner, watch it drain the backlog of `source`, stop it, read its outputs."""
    output_partitions = await partitions_of(bootstrap, target.output)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        backlog_ends = await reader.end_offsets(await partitions_of(bootstrap, source))
        start = await reader.end_offsets(output_partitions)
        started = time.time()
        target.child.start()
        ended, samples = await _until_written(reader, target, start, expected, deadline)
        committed = ended == "complete" and await _until_committed(
            bootstrap, target.group, backlog_ends, COMMIT_WAIT_SECONDS
        )
    finally:
        await reader.stop()
        await target.child.stop()
    outputs = await read_outputs(bootstrap, start)
    return Observed(started, ended, committed, samples, outputs)
