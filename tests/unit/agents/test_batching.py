"""pipeline.runtime.batching: a batch is what the reader has buffered, at most the limit; it never
waits for a record that does not come (a rebalance cleared it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.contract.headers import RecordHeaders
from pipeline.runtime.batching import Writer, batches


@dataclass
class Stream:
    """Hands out `records`, then blocks (like a suspended faust flow), ends or fails."""

    records: list[int]
    ends: bool = False
    fails: bool = False
    reads_cancelled: int = 0

    async def events(self) -> AsyncIterator[int]:
        for record in self.records:
            yield record
        if self.fails:
            raise RuntimeError("the stream broke")
        if self.ends:
            return
        try:
            await asyncio.Event().wait()  # flow suspended, channel cleared: nothing comes
        except asyncio.CancelledError:
            self.reads_cancelled += 1
            raise


async def first_batches(stream: Stream, count: int, limit: int = 500) -> list[list[Any]]:
    found: list[list[Any]] = []
    generator = batches(stream, limit)  # type: ignore[arg-type]  # a stand-in for faust's stream
    try:
        async with asyncio.timeout(2):
            async for batch in generator:
                found.append(batch)
                if len(found) == count:
                    break
    finally:
        await generator.aclose()
    return found


async def test_a_batch_is_handed_on_when_no_further_record_comes() -> None:
    """The flow was suspended and the channel cleared after these records: a batch waiting for
    more would wait for good, and so would faust's rebalance, waiting for the batch's acks."""
    stream = Stream([1, 2, 3])
    assert await first_batches(stream, 1) == [[1, 2, 3]]


async def test_a_record_arriving_while_the_agent_is_busy_makes_the_next_batch() -> None:
    records: asyncio.Queue[int] = asyncio.Queue()

    class Trickle(Stream):
        async def events(self) -> AsyncIterator[int]:
            while True:
                yield await records.get()

    generator = batches(Trickle([]))  # type: ignore[arg-type]  # a stand-in for faust's stream
    try:
        records.put_nowait(1)
        assert await anext(generator) == [1]
        records.put_nowait(2)
        records.put_nowait(3)
        assert await anext(generator) == [2, 3]
    finally:
        await generator.aclose()


async def test_an_error_of_the_stream_reaches_the_agent_after_the_records_before_it() -> None:
    stream = Stream([1, 2], fails=True)
    generator = batches(stream)  # type: ignore[arg-type]  # a stand-in for faust's stream
    assert await anext(generator) == [1, 2]
    with pytest.raises(RuntimeError, match="the stream broke"):
        await anext(generator)


async def test_a_batch_closes_at_the_limit() -> None:
    stream = Stream(list(range(7)))
    assert await first_batches(stream, 3, limit=3) == [[0, 1, 2], [3, 4, 5], [6]]


async def test_the_last_records_of_an_ending_stream_form_a_batch() -> None:
    stream = Stream([1, 2], ends=True)
    generator = batches(stream)  # type: ignore[arg-type]  # a stand-in for faust's stream
    assert [batch async for batch in generator] == [[1, 2]]


async def test_closing_the_batches_cancels_the_pending_read() -> None:
    stream = Stream([1])
    assert await first_batches(stream, 1) == [[1]]
    assert stream.reads_cancelled == 1


async def test_records_are_handed_on_in_order_and_once() -> None:
    stream = Stream(list(range(1200)), ends=True)
    generator = batches(stream)  # type: ignore[arg-type]  # a stand-in for faust's stream
    handed = [record async for batch in generator for record in batch]
    assert handed == list(range(1200))


class Producer:
    """aiokafka's producer as `Writer` calls it: `send(topic, value, key=..., headers=...)`."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    async def send(self, topic: str, value: bytes, **kwargs: Any) -> asyncio.Future[None]:
        self.sent.append((topic, kwargs["key"], value, kwargs["headers"]))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


async def test_the_writer_sends_each_record_with_its_topics_headers() -> None:
    structured = [("content-type", b"application/cloudevents+json; charset=utf-8")]
    json = [("content-type", b"application/json")]
    producer = Producer()
    writer = Writer(
        SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer)),  # type: ignore[arg-type]  # faust's producer over aiokafka's
        RecordHeaders({"p.events.normalized": structured, "p.deliveries": json}),
    )
    await (await writer.send("p.events.normalized", b"posts/1", b"{}"))
    await (await writer.send("p.deliveries", b"s1", b"{}"))
    assert producer.sent == [
        ("p.events.normalized", b"posts/1", b"{}", structured),
        ("p.deliveries", b"s1", b"{}", json),
    ]
