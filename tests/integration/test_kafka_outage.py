"""Kafka down → the ingress answers 503, never 202; Kafka back → it accepts again, no restart."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from pipeline.contract.topics import load_manifest
from pipeline.ops import local_kafka
from pipeline.ops.topics_apply import apply_topics
from pipeline.settings import load_settings
from tests.integration.conftest import Stack, ingress_process
from tests.integration.test_ingest import new_instance, path_of
from tests.support.kafka import read_topic
from tests.support.payloads import hootsuite_element
from tests.support.processes import free_port, free_ports

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[local_kafka.LocalKafka]:
    """A broker of this test's own, on other ports, so stopping it disturbs no other test."""
    port, controller_port = free_ports(2)
    kafka = local_kafka.LocalKafka(
        home=tmp_path / "kafka", port=port, controller_port=controller_port
    )
    asyncio.run(local_kafka.start(kafka))
    yield kafka
    asyncio.run(local_kafka.stop(kafka))


async def test_503_while_kafka_is_down_and_202_when_it_is_back(
    own_broker: local_kafka.LocalKafka, tmp_path: Path
) -> None:
    settings = load_settings(
        kafka_bootstrap=own_broker.bootstrap,
        data_dir=tmp_path / "data",
        ingress_port=free_port(),
        ingress_ack_timeout="2",
    )
    await apply_topics(settings.kafka_bootstrap, load_manifest(settings))
    ingress = ingress_process(settings, tmp_path).start()
    stack = Stack(settings, tmp_path, ingress, worker=ingress)  # no worker needed here
    try:
        instance = await new_instance(stack, "hootsuite")
        first = orjson.dumps([hootsuite_element("1", "SENT")])
        assert (await stack.post(path_of(instance), first))[0] == 202

        await local_kafka.stop(own_broker)
        during = orjson.dumps([hootsuite_element("2", "SENT")])
        started = time.monotonic()
        status, text = await stack.post(path_of(instance), during)
        assert status == 503, text
        assert orjson.loads(text)["error"]["code"] == "kafka_unavailable"
        assert time.monotonic() - started < 2 + 1  # the ingress's ack timeout, and some slack
        metrics_url = f"http://127.0.0.1:{settings.ingress_port}/metrics"
        async with aiohttp.ClientSession() as session, session.get(metrics_url) as response:
            exposition = await response.text()
        assert 'pipeline_kafka_producer_errors_total{process="ingress"} 1.0' in exposition
        assert (
            'pipeline_ingress_requests_total{provider="hootsuite",status="503"} 1.0' in exposition
        )

        await local_kafka.start(own_broker)
        after = orjson.dumps([hootsuite_element("3", "SENT")])
        deadline = time.monotonic() + 60
        while (status := (await stack.post(path_of(instance), after))[0]) != 202:
            assert status == 503
            assert time.monotonic() < deadline, "the ingress never recovered"
        raw = await read_topic(
            settings.kafka_bootstrap,
            settings.topic("webhooks.raw"),
            until=lambda values: len(values) >= 2,
            settle=1.0,
        )
        # What was acknowledged is there; what was refused may or may not have landed later.
        seqs = {orjson.loads(base64.b64decode(v["body"]))[0]["seq_no"] for v in raw}
        assert {"1", "3"} <= seqs
    finally:
        ingress.stop()
