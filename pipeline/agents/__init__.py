"""The faust agents, in flow order: normalize (+ dedup, + route) → deliver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

from pipeline.agents.deliver import Delivery, register_deliver
from pipeline.agents.normalize import Normalizer, register_normalize
from pipeline.agents.route import Router
from pipeline.config.keyring import key_ring_for
from pipeline.config.sealing import ConfigCodec
from pipeline.config.subscriptions import Subscription
from pipeline.config.view import CompactedView, Unreadable
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic
from pipeline.delivery.gates import SubscriberGates
from pipeline.delivery.sender import Sender
from pipeline.events.catalog import Catalog
from pipeline.lag import LagMonitor
from pipeline.memory import release_free_memory
from pipeline.runtime.batching import Writer
from pipeline.runtime.tables import declare_tables
from pipeline.settings import Settings
from pipeline.topics import declare_topics

LAG_INTERVAL_SECONDS = 10.0


def expiry_interval(window: float) -> float:
    """How often the tables drop expired buckets and report their state: a quarter window,
    between 1 s and 10 s (a run with nothing to drop reads a few RocksDB properties)."""
    return min(10.0, max(1.0, window / 4))


def register_agents(
    app: faust.App,
    settings: Settings,
    *,
    config_views: list[CompactedView[Any]] | None = None,
    on_unreadable: Callable[[Unreadable], None] | None = None,
) -> None:
    """`config_views` gets the configuration the agents read (for `/readyz`); `on_unreadable`
    hears of each of its records that cannot be read (the CLI's worker stops on a foreign key)."""
    topics = declare_topics(app, settings)
    tables = declare_tables(app, settings)
    codec = ConfigCodec(key_ring_for(settings))
    subscriptions: CompactedView[Subscription] = CompactedView(
        settings.kafka_bootstrap,
        settings.topic(Topic.CONFIG_SUBSCRIPTIONS),
        codec.subscription_from_json,
        on_unreadable,
    )
    if config_views is not None:
        config_views.append(subscriptions)
    catalog = Catalog(settings.topics_dir)
    router = Router(
        subscriptions,
        deliveries=topics.deliveries.get_topic_name(),
        invalid=topics.events_invalid.get_topic_name(),
    )
    writer = Writer(app, RecordHeaders.from_manifest(settings))
    register_normalize(app, Normalizer(topics, tables, catalog, writer, router))
    sender = Sender(
        limit=settings.delivery_concurrency * len(topics.delivery_tiers),
        allow_private=settings.allow_private_destinations,
    )
    gates = SubscriberGates(settings.delivery_concurrency_per_subscription)
    register_deliver(
        app, Delivery(settings, topics, tables, subscriptions, sender, gates, writer, codec)
    )

    async def start_delivery_clients() -> None:
        subscriptions.start()
        await sender.start()

    async def stop_clients() -> None:
        await subscriptions.stop()
        await sender.close()
        await lag.close()

    def stop_delivery_clients(sender_app: Any, /, *args: Any, **kwargs: Any) -> Awaitable[None]:
        return stop_clients()

    lag = LagMonitor(settings.kafka_bootstrap, settings.app_id)

    async def measure_lag() -> None:
        await lag.measure()

    app.timer(LAG_INTERVAL_SECONDS, on_leader=True)(measure_lag)
    expiry = tables.expiry()

    async def expire_tables() -> None:
        await expiry.run()
        release_free_memory()  # what the flushed memtables and the run freed; a few ms

    app.timer(expiry_interval(settings.dedup_window))(expire_tables)
    app.task(start_delivery_clients)
    app.on_before_shutdown.connect(stop_delivery_clients)
