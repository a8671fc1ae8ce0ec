"""The worker's faust tables (rocksdb, changelogged), co-partitioned with their source topics.

Both are expiring sets (`pipeline.runtime.expiring_table`): keys on disk in time buckets of
`PIPELINE_DEDUP_WINDOW`, remembered for at least one window and at most two, with a fixed cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from pipeline.contract.changelogs import TABLE_SOURCES
from pipeline.contract.topics import topic_spec
from pipeline.runtime.expiring_table import ExpiringTable, Expiry, declare_expiring
from pipeline.settings import Settings


@dataclass(frozen=True)
class Tables:
    # `source id` of every normalized event, so a repeat is dropped within the window.
    dedup: ExpiringTable
    # webhook-id once the subscriber answered 2xx: a restarted worker does not send it again.
    delivered: ExpiringTable

    def expiry(self) -> Expiry:
        return Expiry({"dedup": self.dedup, "delivered": self.delivered})


def declare_tables(app: faust.App, settings: Settings) -> Tables:
    window = settings.dedup_window
    cache = settings.state_cache_mb * 1024 * 1024
    # faust writes a key to the changelog partition of the record being processed, so each table
    # has the partitions of the topics its agent reads (the manifest keeps those equal).
    raw = topic_spec(settings, TABLE_SOURCES["dedup"]).partitions
    tasks = topic_spec(settings, TABLE_SOURCES["delivered"]).partitions
    dedup = declare_expiring(
        app,
        "dedup",
        width=window,
        partitions=raw,
        cache_bytes=cache,
        help="CloudEvents source + id of every normalized event, for deduplication.",
    )
    delivered = declare_expiring(
        app,
        "delivered",
        width=window,
        partitions=tasks,
        cache_bytes=cache,
        help="webhook-id of every delivery a subscriber acknowledged with 2xx.",
    )
    return Tables(dedup=dedup, delivered=delivered)
