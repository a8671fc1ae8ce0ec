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


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    def topic(name: str) -> TopicT:
        return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")

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
    )
