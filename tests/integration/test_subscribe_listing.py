"""The worker's consumer subscribes only once the broker lists its topics
(pipeline.runtime.faust_fixes).

faust creates the tables' changelog topics and subscribes a moment later; a subscription made
before the broker lists a new topic leaves it out of aiokafka's partition counts for minutes, and
every table write fails meanwhile with `PartitionsMismatch` (seen on a fresh `make soak` stack).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline.health import unlisted_topics
from pipeline.runtime.app import create_app
from pipeline.runtime.faust_fixes import wait_until_listed
from pipeline.settings import load_settings

pytestmark = pytest.mark.integration
CREATED_AFTER = 1.0  # seconds: the topic appears while the consumer is subscribing


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 4, 1)])
    finally:
        await admin.close()


async def test_subscribing_waits_until_the_broker_lists_every_topic(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"{prefix}created-late"
    settings = load_settings(
        kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path, app_id=f"{prefix}app"
    )
    consumer = create_app(settings).consumer
    unlisted_when_handed_over: list[set[str]] = []

    async def faust_subscribe(self: Any, topics: Iterable[str]) -> None:
        # Where faust hands the topics to aiokafka, whose first metadata request follows.
        unlisted_when_handed_over.append(await unlisted_topics(kafka_bootstrap, topics))

    monkeypatch.setattr(faust_aiokafka.Consumer, "subscribe", faust_subscribe)

    async def create_later() -> None:
        await asyncio.sleep(CREATED_AFTER)
        await create_topic(kafka_bootstrap, topic)

    creating = asyncio.create_task(create_later())
    await consumer.subscribe([topic])
    await creating
    assert unlisted_when_handed_over == [set()]


async def test_a_topic_never_listed_is_named_and_the_wait_ends(
    kafka_bootstrap: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic, existing = f"{prefix}never-created", f"{prefix}exists"
    await create_topic(kafka_bootstrap, existing)
    missing = await wait_until_listed(
        {topic, existing}, lambda wanted: unlisted_topics(kafka_bootstrap, wanted), limit=0.5
    )
    assert missing == {topic}
    assert topic in caplog.text
    assert existing not in caplog.text
