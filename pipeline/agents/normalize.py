"""`webhooks.raw` + `polls.raw` → normalize → dedup → `events.normalized` | `events.invalid`.

Records are taken in small batches (up to `BATCH_MAX`, waiting at most `BATCH_WITHIN` seconds).
Order of effects per batch, so that a crash can repeat an event but never lose one: write the new
events and dead letters, wait for Kafka's acks, then mark the events seen in the dedup table. faust
commits the batch's source offsets only after this returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, cast

import faust
import faust.streams as faust_streams
import orjson
from faust.types import EventT, StreamT

from pipeline import metrics
from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import parse_time
from pipeline.events.normalize import Outcome, normalize_poll, normalize_webhook
from pipeline.tables import Tables
from pipeline.topics import Topics

BATCH_MAX = 500
BATCH_WITHIN = 0.005


def register_normalize(
    app: faust.App, topics: Topics, tables: Tables, catalog: Catalog, window: float
) -> Any:
    polls = topics.polls_raw.get_topic_name()

    @app.agent(topics.raw_inputs, name="normalize")
    async def normalize(agent_stream: StreamT[bytes]) -> None:
        stream = cast(faust.Stream[bytes], agent_stream)  # take_events is not on the protocol
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN):
            batch = [
                (
                    event,
                    normalize_poll(event.value, catalog)
                    if event.message.topic == polls
                    else normalize_webhook(event.value, catalog),
                )
                for event in events
            ]
            await _publish(batch, topics, tables, window)

    return normalize


def dedup_key(event: dict[str, Any]) -> str:
    return f"{event['source']} {event['id']}"


def _fresh(
    outcome: Outcome, tables: Tables, window: float, taken: set[str]
) -> list[dict[str, Any]]:
    """The events neither seen before (within the window) nor earlier in this batch."""
    fresh = []
    for event in outcome.events:
        key = dedup_key(event)
        seen = tables.dedup[key]
        if key in taken or seen.current() or seen.delta(window):
            metrics.EVENTS_DUPLICATE.labels(outcome.provider).inc()
            continue
        taken.add(key)
        fresh.append(event)
    return fresh


async def _publish(
    batch: Sequence[tuple[EventT[bytes], Outcome]],
    topics: Topics,
    tables: Tables,
    window: float,
) -> None:
    taken: set[str] = set()
    fresh = []
    for source, outcome in batch:
        with current_event(source):
            fresh.append(_fresh(outcome, tables, window, taken))
    acks = []
    for (_, outcome), events in zip(batch, fresh, strict=True):
        for event in events:
            value = orjson.dumps(event)
            acks.append(
                await topics.events_normalized.send(key=event["subject"].encode(), value=value)
            )
        instance = (outcome.instance_id or "").encode()
        for record in outcome.invalid:
            acks.append(await topics.events_invalid.send(key=instance, value=orjson.dumps(record)))
    await asyncio.gather(*acks)
    for (source, outcome), events in zip(batch, fresh, strict=True):
        with current_event(source):
            for event in events:
                tables.dedup[dedup_key(event)] = 1
        _observe(outcome, events)


@contextlib.contextmanager
def current_event(event: EventT[bytes]) -> Iterator[None]:
    """Make `event` faust's current event for table access in this task.

    A table reads and writes the partition of the current event; in a batch that must be each
    record's own, or its keys would land in another partition's store and changelog. Only the
    context variable is set: `Stream.current_event`, which the batching itself reads while more
    records arrive, must stay untouched (setting it lost records in a load test).
    """
    token = faust_streams._current_event.set(weakref.ref(event))  # no public API for this
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


def _observe(outcome: Outcome, fresh: list[dict[str, Any]]) -> None:
    now = time.time()
    for event in fresh:
        metrics.EVENTS_NORMALIZED.labels(outcome.provider, event["type"]).inc()
        occurred = parse_time(event["time"])
        if occurred is not None:
            lag = max(0.0, now - occurred.timestamp())
            metrics.NORMALIZE_LAG.labels(outcome.provider).observe(lag)
    for record in outcome.invalid:
        metrics.EVENTS_INVALID.labels(record["stage"], record["reason"]).inc()
    if outcome.ignored:
        metrics.EVENTS_IGNORED.labels(outcome.provider).inc(outcome.ignored)
