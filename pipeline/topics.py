"""The faust topics of the worker, in flow order; names come from the manifest plus the prefix.

Values are raw bytes: the pipeline (de)serialises JSON itself with orjson, so records stay exactly
what `topics/schemas/` says and data teams' consumers need no faust.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

from pipeline.settings import Settings


@dataclass(frozen=True)
class Topics:
    raw_inputs: TopicT  # webhooks.raw and polls.raw: what the normalize agent reads
    polls_raw: TopicT
    events_invalid: TopicT
    events_normalized: TopicT
    deliveries: TopicT
    delivery_tiers: list[TopicT]  # [deliveries, deliveries.retry.1, …]: one deliver agent each
    deliveries_dead: TopicT
    deliveries_attempts: TopicT
    config_subscriptions: TopicT


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    def topic(name: str) -> TopicT:
        return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")

    deliveries = topic("deliveries")
    retries = [
        topic(f"deliveries.retry.{tier}") for tier in range(1, len(settings.retry_schedule) + 1)
    ]
    return Topics(
        raw_inputs=app.topic(
            settings.topic("webhooks.raw"),
            settings.topic("polls.raw"),
            key_serializer="raw",
            value_serializer="raw",
        ),
        polls_raw=topic("polls.raw"),
        events_invalid=topic("events.invalid"),
        events_normalized=topic("events.normalized"),
        deliveries=deliveries,
        delivery_tiers=[deliveries, *retries],
        deliveries_dead=topic("deliveries.dead"),
        deliveries_attempts=topic("deliveries.attempts"),
        config_subscriptions=topic("config.subscriptions"),
    )
