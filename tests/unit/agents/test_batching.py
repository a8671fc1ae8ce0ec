"""pipeline.agents.batching: batches close on an empty channel, at the limit, and when the next
record does not come although the channel announced one (a rebalance cleared it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.agents.batching import batches


@dataclass
class Queue:
    """The channel's queue as `batches` sees it: only whether something is waiting."""

    waiting: bool

    def empty(self) -> bool:
        return not self.waiting


@dataclass
class Channel:
    queue: Queue


@dataclass
class Stream:
    """Hands out `records`, then blocks (like a suspended faust flow) or ends."""

    records: list[int]
    announced: bool  # the channel says another record is waiting
    ends: bool = False
    channel: Channel = field(init=False)
    reads_cancelled: int = 0

    def __post_init__(self) -> None:
        self.channel = Channel(Queue(self.announced))

    async def events(self) -> AsyncIterator[int]:
        for record in self.records:
            yield record
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


async def test_a_batch_held_for_an_announced_record_that_never_comes_is_still_handed_on() -> None:
    """faust cleared the channel between the check and the read: without the linger the batch
    would wait for good, and so would faust's rebalance, waiting for the batch's acks."""
    stream = Stream([1, 2, 3], announced=True)
    assert await first_batches(stream, 1) == [[1, 2, 3]]


async def test_a_batch_closes_when_nothing_more_is_waiting() -> None:
    stream = Stream([1, 2, 3], announced=False)
    assert await first_batches(stream, 3) == [[1], [2], [3]]


async def test_a_batch_closes_at_the_limit() -> None:
    stream = Stream(list(range(7)), announced=True)
    assert await first_batches(stream, 3, limit=3) == [[0, 1, 2], [3, 4, 5], [6]]


async def test_the_last_records_of_an_ending_stream_form_a_batch() -> None:
    stream = Stream([1, 2], announced=True, ends=True)
    generator = batches(stream)  # type: ignore[arg-type]  # a stand-in for faust's stream
    assert [batch async for batch in generator] == [[1, 2]]


async def test_closing_the_batches_cancels_the_pending_read() -> None:
    stream = Stream([1], announced=True)
    assert await first_batches(stream, 1) == [[1]]
    assert stream.reads_cancelled == 1


@pytest.mark.parametrize("announced", [True, False])
async def test_records_are_handed_on_in_order_and_once(announced: bool) -> None:
    stream = Stream(list(range(1200)), announced=announced, ends=True)
    generator = batches(stream)  # type: ignore[arg-type]  # a stand-in for faust's stream
    handed = [record async for batch in generator for record in batch]
    assert handed == list(range(1200))
