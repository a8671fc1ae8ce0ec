"""The faust app: broker, rocksdb state, at-least-once processing, and the worker's web endpoints.

Agents register themselves on this app from `pipeline.agents`; this module only builds it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.web import Request, Response, View

from pipeline import metrics
from pipeline.config.view import CompactedView, unreadable_summary
from pipeline.contract.topics import Topic, topic_spec
from pipeline.health import KafkaProbe
from pipeline.lag import LagMonitor
from pipeline.partitioner import partition_for
from pipeline.producer import MAX_BATCH_BYTES
from pipeline.runtime.faust_fixes import PipelineApp
from pipeline.runtime.stall import CHECK_INTERVAL_SECONDS, StallDetector, StallWatchdog
from pipeline.settings import Settings


def broker_urls(bootstrap: str) -> str:
    """`host1:9092,host2:9092` → faust's `kafka://host1:9092;kafka://host2:9092`."""
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap.split(",") if server)


def create_app(
    settings: Settings, config_views: list[CompactedView[Any]] | None = None
) -> faust.App:
    """A faust app configured for the pipeline's guarantees (DESIGN.md, "Guarantees").

    `config_views`: the configuration the agents read (filled in by `register_agents`); a record
    of theirs that cannot be read makes `/readyz` answer 503 and say which."""
    datadir = settings.data_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = PipelineApp(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap),
        store="rocksdb://",
        datadir=str(datadir),
        processing_guarantee="at_least_once",
        producer_acks=-1,
        producer_linger=settings.producer_linger,
        producer_partitioner=partition_for,  # Kafka's default, faster (`pipeline.partitioner`)
        # A normalize batch's records of one partition in one batch
        # (`pipeline.runtime.kafka_batches`):
        # 500 records of ~1 KiB spread over 8 partitions, where faust's 16 KiB default made
        # several batches per partition, each waiting for the one before to be sent.
        producer_max_batch_size=MAX_BATCH_BYTES,
        # Topics faust creates itself (changelogs, repartitions) match the worker's sources.
        topic_partitions=topic_spec(settings, Topic.WEBHOOKS_RAW).partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        # What a restarted worker reads again is what it did since the last commit: every second
        # instead of faust's 2.8 s cuts the repeats after a crash for one commit request a second.
        broker_commit_interval=1.0,
        # A crashed worker's partitions move to the survivors within ~10 s, not faust's 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        web_port=settings.worker_web_port,
        web_bind=settings.bind_host,
        web_host=settings.bind_host,
        web_in_thread=False,
    )
    group = LagMonitor(settings.kafka_bootstrap, settings.app_id)
    ingest = [
        TopicPartition(settings.topic(topic), partition)
        for topic in (Topic.WEBHOOKS_RAW, Topic.POLLS_RAW)
        for partition in range(topic_spec(settings, topic).partitions)
    ]

    async def group_positions() -> Mapping[TopicPartition, tuple[int, int]]:
        return await group.positions(ingest)

    async def in_group() -> bool:
        consumer: Any = app.consumer  # the `SafeConsumer` that `PipelineApp` installs
        member = consumer.member_id()
        return member is not None and member in await group.members()

    def close_group_clients(sender: Any, /, *args: Any, **kwargs: Any) -> Awaitable[None]:
        return group.close()

    watchdog = StallWatchdog(
        app,
        StallDetector(settings.stall_timeout),
        group_positions=group_positions,
        in_group=in_group,
    )
    app.timer(CHECK_INTERVAL_SECONDS)(watchdog.check)
    app.on_before_shutdown.connect(close_group_clients)
    probe = KafkaProbe(settings.kafka_bootstrap)
    _add_health_pages(app, probe, watchdog, [] if config_views is None else config_views)
    return app


def _add_health_pages(
    app: faust.App,
    probe: KafkaProbe,
    watchdog: StallWatchdog,
    config_views: list[CompactedView[Any]],
) -> None:
    @app.page("/healthz")
    async def healthz(view: View, request: Request) -> Response:
        if watchdog.healthy:
            return view.json({"status": "ok"})
        stalled = [f"{tp.topic}[{tp.partition}]" for tp in watchdog.stalled]
        return view.json({"status": "stalled", "partitions": stalled}, status=503)

    @app.page("/readyz")
    async def readyz(view: View, request: Request) -> Response:
        if not await probe.ready():
            return view.json({"status": "kafka unreachable"}, status=503)
        if unreadable := unreadable_summary(config_views):
            return view.json({"status": "config unreadable", "detail": unreadable}, status=503)
        return view.json({"status": "ready"})

    @app.page("/metrics")
    async def metrics_page(view: View, request: Request) -> Response:
        body, content_type = metrics.render()
        # aiohttp rejects a charset inside content_type=, so the header is set whole.
        return view.bytes(body, headers={"Content-Type": content_type})
