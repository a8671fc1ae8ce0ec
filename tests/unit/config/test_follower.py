"""pipeline.config.follower: a topic read from its beginning and followed, over a stand-in for
aiokafka's consumer that serves the records a test appends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from pipeline.config import follower as follower_module
from pipeline.config.follower import TopicFollower

Record = tuple[bytes | None, bytes | None]


class Consumer:
    """aiokafka's consumer as the follower uses it, over `LOG[partition]`; `failures` start
    attempts fail first, as they do while Kafka is away."""

    log: dict[int, list[Record]] | None = {}  # noqa: RUF012 - None: the topic does not exist
    failures = 0
    started = 0

    end_offset_requests = 0

    def __init__(self, **config: Any) -> None:
        self.positions: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        Consumer.started += 1
        if Consumer.failures:
            Consumer.failures -= 1
            raise KafkaConnectionError("broker away")

    async def stop(self) -> None:
        return None

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.positions = dict.fromkeys(partitions, -1)

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for partition in partitions:
            self.positions[partition] = 0

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        assert Consumer.log is not None
        Consumer.end_offset_requests += 1
        await asyncio.sleep(0.01)  # a round trip to the broker
        return {p: len(Consumer.log[p.partition]) for p in partitions}

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        assert Consumer.log is not None
        batch: dict[TopicPartition, list[Any]] = {}
        for partition, position in self.positions.items():
            records = Consumer.log[partition.partition][position:]
            if records:
                batch[partition] = [
                    SimpleNamespace(key=key, value=value, offset=position + n)
                    for n, (key, value) in enumerate(records)
                ]
                self.positions[partition] = position + len(records)
        if not batch:
            await asyncio.sleep(0.005)  # the real one waits up to timeout_ms for records
        return batch


@pytest.fixture(autouse=True)
def consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    Consumer.log, Consumer.failures, Consumer.started = {0: [], 1: []}, 0, 0
    Consumer.end_offset_requests = 0

    async def partitions_of(bootstrap: str, topic: str) -> list[int]:
        return sorted(Consumer.log or ())

    monkeypatch.setattr(follower_module, "AIOKafkaConsumer", Consumer)
    monkeypatch.setattr(follower_module, "partitions_of", partitions_of)
    monkeypatch.setattr(follower_module, "RETRY_SECONDS", 0.01)


class Seen:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None, int]] = []

    def __call__(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        self.records.append((key, value, offset))


@contextlib.asynccontextmanager
async def following(seen: Seen) -> AsyncIterator[TopicFollower]:
    """A started follower, caught up; stopped afterwards."""
    follower = TopicFollower("kafka:9092", "unit.config", seen)
    follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 2)
        yield follower
    finally:
        await follower.stop()


async def _until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_the_topic_is_read_from_its_beginning_then_caught_up() -> None:
    assert Consumer.log is not None
    Consumer.log[0] += [(b"a", b"1"), (b"a", None)]
    Consumer.log[1] += [(b"b", b"2")]
    seen = Seen()
    follower = TopicFollower("kafka:9092", "unit.config", seen)
    follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 2)
        assert len(seen.records) == 3
        assert [r for r in seen.records if r[0] == b"a"] == [(b"a", b"1", 0), (b"a", None, 1)]
        assert (b"b", b"2", 0) in seen.records
    finally:
        await follower.stop()


async def test_an_empty_topic_is_caught_up_at_once() -> None:
    follower = TopicFollower("kafka:9092", "unit.config", Seen())
    follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 2)
    finally:
        await follower.stop()


async def test_later_records_are_followed_and_synced_waits_for_them() -> None:
    assert Consumer.log is not None
    seen = Seen()
    async with following(seen) as follower:
        Consumer.log[1].append((b"c", b"3"))  # written by another process, acked
        await asyncio.wait_for(follower.synced(), 2)
        assert seen.records == [(b"c", b"3", 0)]


async def test_callers_waiting_together_share_one_barrier_and_a_later_moment_needs_its_own() -> (
    None
):
    """The normalize agent asks for a barrier per batch: callers that come while one is under
    way for their moment share it, one end-offsets request between them."""
    assert Consumer.log is not None
    seen = Seen()
    async with following(seen) as follower:
        before = Consumer.end_offset_requests
        Consumer.log[0].append((b"d", b"4"))
        moment = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(*(follower.synced_since(moment) for _ in range(10))), 2
        )
        assert Consumer.end_offset_requests == before + 1
        assert seen.records == [(b"d", b"4", 0)]
        await asyncio.wait_for(follower.synced_since(moment), 2)  # covered already
        assert Consumer.end_offset_requests == before + 1
        Consumer.log[1].append((b"e", b"5"))
        await asyncio.wait_for(follower.synced(), 2)  # a later moment: a barrier of its own
        assert Consumer.end_offset_requests == before + 2
        assert seen.records[-1] == (b"e", b"5", 0)


async def test_a_barrier_asked_while_kafka_is_away_waits_for_the_next_reader() -> None:
    assert Consumer.log is not None
    Consumer.log[0].append((b"k", b"v"))
    Consumer.failures = 3
    seen = Seen()
    follower = TopicFollower("kafka:9092", "unit.config", seen)
    follower.start()
    try:
        await asyncio.wait_for(follower.synced(), 2)
        assert Consumer.started == 5  # three failed readers, the reader, the barrier's own
        assert seen.records == [(b"k", b"v", 0)]
    finally:
        await follower.stop()


def test_a_follower_assumed_read_passes_every_barrier_without_kafka() -> None:
    follower = TopicFollower("kafka:9092", "unit.config", Seen())
    follower.assume_read()
    assert follower.caught_up.is_set()
    asyncio.run(asyncio.wait_for(follower.synced(), 1))
    assert Consumer.end_offset_requests == 0


async def test_a_broker_away_or_a_missing_topic_is_retried_until_it_is_there() -> None:
    log = {0: [(b"k", b"v")]}
    Consumer.log, Consumer.failures = None, 2
    seen = Seen()
    follower = TopicFollower("kafka:9092", "unit.config", seen)
    follower.start()
    try:
        await _until(lambda: Consumer.started >= 4)  # two failures, then the missing topic
        assert not follower.caught_up.is_set()
        Consumer.log = log
        await asyncio.wait_for(follower.caught_up.wait(), 2)
        assert seen.records == [(b"k", b"v", 0)]
    finally:
        await follower.stop()


async def test_nothing_is_read_after_stop() -> None:
    assert Consumer.log is not None
    seen = Seen()
    follower = TopicFollower("kafka:9092", "unit.config", seen)
    follower.start()
    await asyncio.wait_for(follower.caught_up.wait(), 2)
    await follower.stop()
    Consumer.log[0].append((b"late", b"x"))
    await asyncio.sleep(0.05)  # several polls of a follower that would still be running
    assert seen.records == []
