"""A faust worker runs against the real broker, processes a record, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.contract.topics import Topic, topic_spec
from pipeline.settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration

ECHO_WORKER = Path(__file__).with_name("echo_worker.py")


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _wait_ready(url: str, worker: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker exited during start"
        try:
            if (await _get(url))[0] == 200:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    pytest.fail(f"{url} never answered 200")


async def test_worker_processes_a_record_and_stops_cleanly(
    settings: Settings, tmp_path: Path
) -> None:
    partitions = topic_spec(settings, Topic.WEBHOOKS_RAW).partitions  # as the app's default
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics(
        [NewTopic(settings.topic(name), partitions, 1) for name in ("echo.in", "echo.out")]
    )
    await admin.close()

    port = free_port()
    env = {
        **os.environ,
        "PIPELINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PIPELINE_TOPIC_PREFIX": settings.topic_prefix,
        "PIPELINE_APP_ID": settings.app_id,
        "PIPELINE_DATA_DIR": str(tmp_path / "worker"),
        "PIPELINE_WORKER_WEB_PORT": str(port),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(  # noqa: ASYNC220 - started once; the loop only awaits the broker
        [sys.executable, str(ECHO_WORKER)], env=env, stdout=log, stderr=log
    )
    try:
        await _wait_ready(f"http://127.0.0.1:{port}/readyz", worker, time.monotonic() + 60)
        status, body = await _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert "pipeline_build_info" in body

        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        await producer.send_and_wait(settings.topic("echo.in"), value=b"hello", key=b"k1")
        await producer.stop()

        consumer = AIOKafkaConsumer(
            settings.topic("echo.out"),
            bootstrap_servers=settings.kafka_bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            async with asyncio.timeout(60):
                record = await consumer.getone()
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"k1", b"HELLO")

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    assert "Closing event loop" in (tmp_path / "worker.log").read_text()
