"""`events.normalized` → route → `deliveries`: one task per event and matching subscription.

The subscriptions come from `config.subscriptions`, followed live; routing waits until the topic
has been read to its end once, so no event is routed against a half-loaded configuration.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import orjson
from faust.types import StreamT

from pipeline import metrics
from pipeline.config.subscriptions import Subscription
from pipeline.config.view import CompactedView
from pipeline.delivery.tasks import new_task
from pipeline.events.invalid import decode_or_dead_letter
from pipeline.topics import Topics


def register_route(
    app: faust.App, topics: Topics, subscriptions: CompactedView[Subscription]
) -> Any:
    @app.agent(topics.events_normalized, name="route")
    async def route(stream: StreamT[bytes]) -> None:
        async for raw in stream:
            await subscriptions.caught_up.wait()
            event, dead = decode_or_dead_letter(raw, "route")
            if dead is not None:
                await (await topics.events_invalid.send(key=b"", value=orjson.dumps(dead)))
                metrics.EVENTS_INVALID.labels("route", dead["reason"]).inc()
                continue
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

    return route
