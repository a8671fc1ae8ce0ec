"""`events.normalized` → route → `deliveries`: one task per event and matching subscription.

The subscriptions come from `config.subscriptions`, followed live; routing waits until the topic
has been read to its end once, so no event is routed against a half-loaded configuration. Events
are routed in batches (`pipeline.agents.batching`): every task of a batch is acknowledged by Kafka
before the batch's events are acked, so faust commits an event only once its tasks are written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from functools import partial
from typing import Any

import faust
import orjson
from faust.types import EventT, StreamT

from pipeline import metrics
from pipeline.agents.batching import Writer, ack_batch, batches, manual_acks
from pipeline.agents.guard import internal_error, retrying
from pipeline.config.subscriptions import Subscription
from pipeline.config.view import CompactedView
from pipeline.delivery.tasks import new_task
from pipeline.events.invalid import decode_or_dead_letter
from pipeline.topics import Topics

log = logging.getLogger(__name__)
Output = tuple[str, bytes, bytes]  # topic, key, value


def outputs(
    raw: bytes | None, subscriptions: CompactedView[Subscription], topics: Topics
) -> tuple[list[Output], int]:
    """The tasks (or the dead letter) one event becomes, serialised, and how many tasks."""
    try:
        event, dead = decode_or_dead_letter(raw, "route")
        if dead is not None:
            metrics.EVENTS_INVALID.labels("route", dead["reason"]).inc()
            return [(topics.events_invalid.get_topic_name(), b"", orjson.dumps(dead))], 0
        deliveries = topics.deliveries.get_topic_name()
        kind, instance = str(event.get("type")), event.get("instanceid")
        tasks = [
            (deliveries, s.id.encode(), orjson.dumps(new_task(s.id, event, reason="live")))
            for s in subscriptions.values()
            if s.matches(kind, instance)
        ]
        return tasks, len(tasks)
    except Exception as exc:
        log.exception("route: a record failed unexpectedly; dead-lettered")
        metrics.AGENT_ERRORS.labels("route").inc()
        metrics.EVENTS_INVALID.labels("route", "internal_error").inc()
        letter = orjson.dumps(internal_error("route", exc, raw))
        return [(topics.events_invalid.get_topic_name(), b"", letter)], 0


async def write(writer: Writer, records: list[Output]) -> None:
    acks: list[Awaitable[Any]] = [await writer.send(*record) for record in records]
    await asyncio.gather(*acks)


def register_route(
    app: faust.App, topics: Topics, subscriptions: CompactedView[Subscription]
) -> Any:
    writer = Writer(app)

    async def route_batch(batch: list[EventT[Any]]) -> None:
        await subscriptions.caught_up.wait()
        records: list[Output] = []
        routed = 0
        for event in batch:
            produced, tasks = outputs(event.value, subscriptions, topics)
            records += produced
            routed += tasks
        await retrying("route", partial(write, writer, records))
        metrics.DELIVERIES_ROUTED.labels("live").inc(routed)

    @app.agent(topics.events_normalized, name="route")
    async def route(stream: StreamT[bytes]) -> None:
        manual = manual_acks(stream)
        async for batch in batches(manual):
            await route_batch(batch)
            await ack_batch(manual, batch)

    return route
