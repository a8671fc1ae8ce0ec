"""A compacted view's read barrier: after `synced()`, every record acked before it is in memory.

A poller taking shards over relies on it to see what the previous owner wrote just before it died.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from pipeline.config.view import CompactedView
from tests.integration.conftest import stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(kafka_bootstrap: str, tmp_path: Path) -> str:
    """A fresh compacted topic of the manifest (created by `stack_settings`, outside the loop)."""
    return stack_settings(kafka_bootstrap, tmp_path).topic("pollers.credentials")


async def test_synced_returns_only_once_every_acked_record_is_read(
    kafka_bootstrap: str, topic: str
) -> None:
    view = CompactedView(kafka_bootstrap, topic, orjson.loads)
    view.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await asyncio.wait_for(view.caught_up.wait(), 30)
        for round_ in range(5):
            # The view's consumer is idle in a 1 s fetch when the record lands: only the
            # barrier makes the record visible at once.
            await producer.send_and_wait(topic, orjson.dumps({"n": round_}), key=b"k")
            await asyncio.wait_for(view.synced(), 10)
            assert view.get("k") == {"n": round_}
    finally:
        await producer.stop()
        await view.stop()
