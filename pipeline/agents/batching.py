"""Batches for the agents: read what is waiting, write it all, wait for the acks once, then ack.

A batch closes as soon as no further record is waiting in the agent's channel (an idle pipeline
adds no latency) or at `BATCH_LIMIT`. Its records are acked by `ack_batch` only after every output
of the batch is acknowledged by Kafka; nothing acks them on failure or cancellation (faust's own
`take()` does, in a `finally`), so a crash or a shutdown mid-batch reads the batch again.

A batch also closes when the next record does not come within `LINGER_SECONDS`, although the
channel said one was waiting. That happens on a rebalance: faust suspends the flow and clears the
channels between the check and the read, then waits for every record handed to an agent to be
acked before it lets the rebalance finish. A batch held back for its next record would never be
acked, and the worker would wait for it for good (seen in `test_crashes.py` after a broker restart).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any

import faust
from faust.types import EventT, StreamT

BATCH_LIMIT = 500
LINGER_SECONDS = 0.01  # a record the channel announced takes microseconds to arrive


def manual_acks(stream: StreamT[Any]) -> StreamT[Any]:
    """The agent's stream with acks left to `ack_batch` (faust's `Stream.noack`)."""
    acking: StreamT[Any] = stream.noack()  # type: ignore[attr-defined]  # on Stream, not StreamT
    return acking


async def batches(
    stream: StreamT[Any], limit: int = BATCH_LIMIT
) -> AsyncIterator[list[EventT[Any]]]:
    """The events of a manual-ack stream (`stream.noack()`), grouped as they arrive."""
    waiting = stream.channel.queue  # type: ignore[attr-defined]  # faust's channels have one
    events = stream.events().__aiter__()
    batch: list[EventT[Any]] = []
    # The read of the next record runs as a task of its own: a batch can close while it waits,
    # and it is never cancelled half-way through faust's stream (that could lose the record).
    following: asyncio.Future[EventT[Any]] | None = None
    try:
        while True:
            if following is None:
                following = asyncio.ensure_future(events.__anext__())
            if batch:
                await asyncio.wait({following}, timeout=LINGER_SECONDS)
                if not following.done():
                    yield batch
                    batch = []
                    continue
            try:
                event = await following
            except StopAsyncIteration:
                break
            following = None
            batch.append(event)
            if len(batch) >= limit or waiting.empty():
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        if following is not None and not following.done():
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await following


async def ack_batch(stream: StreamT[Any], batch: Iterable[EventT[Any]]) -> None:
    for event in batch:
        await stream.ack(event)


class Writer:
    """Writes records through the app's producer, skipping faust's per-send topic machinery."""

    def __init__(self, app: faust.App) -> None:
        self._app = app

    async def send(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        """Queue one record; the result resolves once Kafka acknowledged it."""
        ack: Awaitable[Any] = await self._app.producer.send(topic, key, value, None, None, None)
        return ack
