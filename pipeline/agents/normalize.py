"""`webhooks.raw` + `polls.raw` → normalize → dedup → `events.normalized` | `events.invalid`.

Order of effects per record, so that a crash can repeat an event but never lose one: write the
new events and dead letters, wait for Kafka's acks, then mark the events seen in the dedup table.
The source offset is committed by faust only after this returns.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

import faust
import orjson
from faust.types import StreamT

from pipeline import metrics
from pipeline.agents.guard import guarded
from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import parse_time
from pipeline.events.normalize import Outcome, normalize_poll, normalize_webhook
from pipeline.tables import Tables
from pipeline.topics import Topics


def register_normalize(
    app: faust.App, topics: Topics, tables: Tables, catalog: Catalog, window: float
) -> Any:
    polls = topics.polls_raw.get_topic_name()

    async def dead_letter(value: bytes) -> None:
        await (await topics.events_invalid.send(key=b"", value=value))

    async def one(raw: bytes, polled: bool) -> None:
        outcome = normalize_poll(raw, catalog) if polled else normalize_webhook(raw, catalog)
        await _publish(outcome, topics, tables, window)

    @app.agent(topics.raw_inputs, name="normalize")
    async def normalize(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            polled = event.message.topic == polls
            await guarded("normalize", event.value, partial(one, event.value, polled), dead_letter)

    return normalize


def dedup_key(event: dict[str, Any]) -> str:
    return f"{event['source']} {event['id']}"


def _fresh(outcome: Outcome, tables: Tables, window: float) -> list[dict[str, Any]]:
    """The events neither seen before (within the window) nor repeated inside this record."""
    fresh: dict[str, dict[str, Any]] = {}
    for event in outcome.events:
        key = dedup_key(event)
        seen = tables.dedup[key]
        if key in fresh or seen.current() or seen.delta(window):
            metrics.EVENTS_DUPLICATE.labels(outcome.provider).inc()
            continue
        fresh[key] = event
    return list(fresh.values())


async def _publish(outcome: Outcome, topics: Topics, tables: Tables, window: float) -> None:
    fresh = _fresh(outcome, tables, window)
    acks = [
        await topics.events_normalized.send(
            key=event["subject"].encode(), value=orjson.dumps(event)
        )
        for event in fresh
    ]
    instance = (outcome.instance_id or "").encode()
    acks += [
        await topics.events_invalid.send(key=instance, value=orjson.dumps(record))
        for record in outcome.invalid
    ]
    await asyncio.gather(*acks)
    now = time.time()
    for event in fresh:
        tables.dedup[dedup_key(event)] = 1
        metrics.EVENTS_NORMALIZED.labels(outcome.provider, event["type"]).inc()
        occurred = parse_time(event["time"])
        if occurred is not None:
            metrics.NORMALIZE_LAG.labels(outcome.provider).observe(
                max(0.0, now - occurred.timestamp())
            )
    for record in outcome.invalid:
        metrics.EVENTS_INVALID.labels(record["stage"], record["reason"]).inc()
    if outcome.ignored:
        metrics.EVENTS_IGNORED.labels(outcome.provider).inc(outcome.ignored)
