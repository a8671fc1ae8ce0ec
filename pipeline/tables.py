"""The worker's faust tables (rocksdb, changelogged), co-partitioned with their source topics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from pipeline.contract.topics import Topic, topic_spec
from pipeline.settings import Settings


@dataclass(frozen=True)
class Tables:
    # `source id` → 1, in tumbling windows of PIPELINE_DEDUP_WINDOW kept for two windows, so a
    # repeat is caught for at least one full window after the first sighting.
    dedup: Any  # faust's WindowWrapper is untyped for item access
    # webhook-id → 1 once the subscriber answered 2xx: a restarted worker does not send it again.
    delivered: Any


def declare_tables(app: faust.App, settings: Settings) -> Tables:
    window = settings.dedup_window
    # faust writes a key to the changelog partition of the record being processed, so each table
    # has the partitions of the topics its agent reads (the manifest keeps those equal).
    raw = topic_spec(settings, Topic.WEBHOOKS_RAW).partitions
    tasks = topic_spec(settings, Topic.DELIVERIES).partitions
    dedup = app.Table(
        "dedup",
        default=int,
        key_type=str,
        value_type=int,
        partitions=raw,
        help="CloudEvents source + id of every normalized event, for deduplication.",
    ).tumbling(window, expires=2 * window)
    delivered = app.Table(
        "delivered",
        default=int,
        key_type=str,
        value_type=int,
        partitions=tasks,
        help="webhook-id of every delivery a subscriber acknowledged with 2xx.",
    ).tumbling(window, expires=2 * window)
    return Tables(dedup=dedup, delivered=delivered)
