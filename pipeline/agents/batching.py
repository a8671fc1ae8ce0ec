"""Batches for the agents: read what is waiting, write it all, wait for the acks once, then ack.

A batch closes as soon as no further record is waiting in the agent's channel (an idle pipeline
adds no latency) or at `BATCH_LIMIT`. Its records are acked by `ack_batch` only after every output
of the batch is acknowledged by Kafka; nothing acks them on failure or cancellation (faust's own
`take()` does, in a `finally`), so a crash or a shutdown mid-batch reads the batch again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any

import faust
from faust.types import EventT, StreamT

BATCH_LIMIT = 500


def manual_acks(stream: StreamT[Any]) -> StreamT[Any]:
    """The agent's stream with acks left to `ack_batch` (faust's `Stream.noack`)."""
    acking: StreamT[Any] = stream.noack()  # type: ignore[attr-defined]  # on Stream, not StreamT
    return acking


async def batches(
    stream: StreamT[Any], limit: int = BATCH_LIMIT
) -> AsyncIterator[list[EventT[Any]]]:
    """The events of a manual-ack stream (`stream.noack()`), grouped as they arrive."""
    waiting = stream.channel.queue  # type: ignore[attr-defined]  # faust's channels have one
    batch: list[EventT[Any]] = []
    async for event in stream.events():
        batch.append(event)
        if len(batch) >= limit or waiting.empty():
            yield batch
            batch = []


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
