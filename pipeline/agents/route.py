"""`events.normalized` → route → `deliveries`: one task per event and matching subscription.

The subscriptions come from `config.subscriptions`, followed live; routing waits until the topic
has been read to its end once, so no event is routed against a half-loaded configuration.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import faust
import orjson
from faust.types import StreamT

from pipeline import metrics
from pipeline.agents.guard import guarded
from pipeline.config.subscriptions import Subscription
from pipeline.config.view import CompactedView
from pipeline.delivery.tasks import new_task
from pipeline.events.invalid import decode_or_dead_letter
from pipeline.topics import Topics


def register_route(
    app: faust.App, topics: Topics, subscriptions: CompactedView[Subscription]
) -> Any:
    async def dead_letter(value: bytes) -> None:
        await (await topics.events_invalid.send(key=b"", value=value))

    async def route_one(raw: bytes) -> None:
        event, dead = decode_or_dead_letter(raw, "route")
        if dead is not None:
            await dead_letter(orjson.dumps(dead))
            metrics.EVENTS_INVALID.labels("route", dead["reason"]).inc()
            return
        matching = [
            s
            for s in subscriptions.values()
            if s.matches(str(event.get("type")), event.get("instanceid"))
        ]
        acks = [
            await topics.deliveries.send(
                key=s.id.encode(), value=orjson.dumps(new_task(s.id, event, reason="live"))
            )
            for s in matching
        ]
        await asyncio.gather(*acks)  # acked before faust may commit the event's offset
        metrics.DELIVERIES_ROUTED.labels("live").inc(len(matching))

    @app.agent(topics.events_normalized, name="route")
    async def route(stream: StreamT[bytes]) -> None:
        async for raw in stream:
            await subscriptions.caught_up.wait()
            await guarded("route", raw, partial(route_one, raw), dead_letter)

    return route
