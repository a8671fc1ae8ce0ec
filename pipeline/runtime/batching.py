"""Batches for the agents: read what is waiting, write it all, wait for the acks once, then ack.

One reader task takes the agent's records from faust's stream into a small local buffer; a batch
is whatever the buffer holds when the agent is ready for the next one (at most `BATCH_LIMIT`), so
an idle pipeline adds no latency and a busy one batches by itself. Records are acked by
`ack_batch` only after every output of the batch is acknowledged by Kafka; nothing acks them on
failure or cancellation (faust's own `take()` does, in a `finally`), so a crash or a shutdown
mid-batch reads the batch again.

A batch never waits for a record that was announced but has not arrived: on a rebalance faust
suspends the flow and clears the channels, then waits for every record handed to an agent to be
acked before it lets the rebalance finish, so a batch held back for its next record would never
be acked and the worker would wait for good (seen in `test_crashes.py` after a broker restart).
The buffer only ever holds records faust has handed out, and they are batched as they are.

The reader costs one queue hand-over per record; reading each record as a task of its own (so a
batch could stop waiting for it) cost a task, a timer and an `asyncio.wait` per record: about 5 %
of a busy worker's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any

import faust
from faust.types import EventT, StreamT

from pipeline.contract.headers import RecordHeaders
from pipeline.contract.output import Output
from pipeline.runtime.faust_hot_path import kafka_producer
from pipeline.runtime.kafka_batches import Record, send_batches

BATCH_LIMIT = 500


def manual_acks(stream: StreamT[Any]) -> StreamT[Any]:
    """The agent's stream with acks left to `ack_batch` (faust's `Stream.noack`)."""
    acking: StreamT[Any] = stream.noack()  # type: ignore[attr-defined]  # on Stream, not StreamT
    return acking


_END = object()  # the stream ended: what the reader puts last


async def batches(
    stream: StreamT[Any], limit: int = BATCH_LIMIT
) -> AsyncIterator[list[EventT[Any]]]:
    """The events of a manual-ack stream (`stream.noack()`), grouped as they arrive."""
    buffer: asyncio.Queue[Any] = asyncio.Queue(maxsize=limit)
    failed: list[BaseException] = []

    async def read() -> None:
        try:
            async for event in stream.events():
                await buffer.put(event)
        except Exception as exc:  # raised in the agent below, after the records before it
            failed.append(exc)
        await buffer.put(_END)

    def ended() -> None:
        if failed:
            raise failed[0]

    # The reader is never cancelled half-way through faust's stream except when the agent stops:
    # a record taken but not yet buffered then is never acked, so faust commits nothing past it.
    reader = asyncio.ensure_future(read())
    try:
        while True:
            first = await buffer.get()
            if first is _END:
                ended()
                return
            batch = [first]
            while len(batch) < limit and not buffer.empty():
                event = buffer.get_nowait()
                if event is _END:
                    yield batch
                    ended()
                    return
                batch.append(event)
            yield batch
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def ack_batch(stream: StreamT[Any], batch: Iterable[EventT[Any]]) -> None:
    for event in batch:
        await stream.ack(event)


class Writer:
    """Writes records through the app's aiokafka producer, skipping faust's per-send machinery
    (`pipeline.runtime.faust_hot_path.kafka_producer`); each carries its topic's headers
    (`pipeline.contract.headers`)."""

    def __init__(self, app: faust.App, headers: RecordHeaders) -> None:
        self._app = app
        self._headers = headers

    async def send_all(self, records: Iterable[Output]) -> Awaitable[Any]:
        """Queue (topic, key, value) records a partition batch at a time
        (`pipeline.runtime.kafka_batches`); the result resolves once Kafka acknowledged them all."""
        of = self._headers.of
        sent = await send_batches(
            kafka_producer(self._app),
            [Record(topic, key, value, of(topic, value)) for topic, key, value in records],
        )
        return asyncio.gather(*(batch.ack for batch in sent))

    async def send(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        """Queue one record; the result resolves once Kafka acknowledged it."""
        headers = self._headers.of(topic, value)
        producer = kafka_producer(self._app)
        ack: Awaitable[Any] = await producer.send(topic, value, key=key, headers=headers)
        return ack
