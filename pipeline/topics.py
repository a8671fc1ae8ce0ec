"""The faust topics of the worker, in flow order: `pipeline.contract.topics` names them, the
prefix makes them cluster-side names.

Values are raw bytes: the pipeline (de)serialises JSON itself with orjson, so records stay exactly
what `topics/schemas/` says and data teams' consumers need no faust.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

from pipeline.contract.topics import Topic, retry_topics
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

    deliveries = topic(Topic.DELIVERIES)
    return Topics(
        raw_inputs=app.topic(
            settings.topic(Topic.WEBHOOKS_RAW),
            settings.topic(Topic.POLLS_RAW),
            key_serializer="raw",
            value_serializer="raw",
        ),
        polls_raw=topic(Topic.POLLS_RAW),
        events_invalid=topic(Topic.EVENTS_INVALID),
        events_normalized=topic(Topic.EVENTS_NORMALIZED),
        deliveries=deliveries,
        delivery_tiers=[deliveries, *map(topic, retry_topics(settings))],
        deliveries_dead=topic(Topic.DELIVERIES_DEAD),
        deliveries_attempts=topic(Topic.DELIVERIES_ATTEMPTS),
        config_subscriptions=topic(Topic.CONFIG_SUBSCRIPTIONS),
    )
