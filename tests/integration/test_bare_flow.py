"""bench/drains/bare_flow.py on the real broker: a backlog of envelopes (repeats among them) in,
each event delivered once to a loopback receiver with a valid signature, its attempt record and
its delivered mark written."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.drains.bare_steps import FlowCounts, FlowSpec, delivered_changelog, spec_subscription
from bench.payloads import Instances, Mix, WebhookFactory
from bench.receiver import LOG, create_app
from pipeline.contract.topics import Topic, load_manifest
from pipeline.delivery.tasks import decode_task
from pipeline.events.cloudevent import rfc3339
from pipeline.events.envelope import WebhookEnvelope, encode_envelope
from pipeline.http.standard_webhooks import generate_secret
from pipeline.ops.topics_apply import apply_topics
from pipeline.settings import REPO_ROOT, Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration

ENVELOPES = 50
INSTANCES = Instances("okto-bare", "/okto", "oktopost-secret", "hoot-bare", "/hoot")


def envelopes(tag: str) -> tuple[list[bytes], set[str]]:
    """`ENVELOPES` envelopes as the ingress writes them (about one in ten a provider's resend),
    and the event ids they carry."""
    factory = WebhookFactory(INSTANCES, Mix(duplicate_share=0.2), tag)
    values: list[bytes] = []
    ids: set[str] = set()
    for _ in range(ENVELOPES):
        request = factory.next()
        okto = request.path == INSTANCES.oktopost_path
        envelope = WebhookEnvelope(
            request_id=uuid.uuid4().hex,
            provider="oktopost" if okto else "hootsuite",
            instance_id=INSTANCES.oktopost_id if okto else INSTANCES.hootsuite_id,
            received_at=rfc3339(datetime.now(UTC)),
            headers={"content-type": "application/json"},
            body=request.body,
        )
        values.append(encode_envelope(envelope))
        ids.update(request.event_ids)
    return values, ids


async def write_backlog(settings: Settings, values: list[bytes]) -> str:
    source = settings.topic(Topic.WEBHOOKS_RAW)
    specs = [spec for spec in load_manifest(settings) if spec.name == source]
    await apply_topics(settings.kafka_bootstrap, specs)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send(source, value, key=b"okto-bare")
        await producer.flush()
    finally:
        await producer.stop()
    return source


async def read_all(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    """`count` records of `topic` from its start (raises after 10 s without them)."""
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    found: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(10):
            while len(found) < count:
                polled = await reader.getmany(timeout_ms=500)
                found += [(r.key, r.value) for part in polled.values() for r in part]
    finally:
        await reader.stop()
    return found


async def test_every_event_arrives_once_signed_and_is_logged_and_marked(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    values, expected = envelopes(uuid.uuid4().hex[:6])
    source = await write_backlog(settings, values)
    secret = generate_secret()
    app = create_app()
    app[LOG].secret = secret
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    own = {
        "kafka_bootstrap": settings.kafka_bootstrap,
        "topic_prefix": f"{prefix}bare.",
        "app_id": f"{prefix}bare-app",
        "allow_private_destinations": True,
    }
    instance_ids = [INSTANCES.oktopost_id, INSTANCES.hootsuite_id]
    hook = f"http://127.0.0.1:{port}/hook"
    spec = FlowSpec(
        source=source,
        group=f"{prefix}bare",
        subscriptions=[spec_subscription("sub-bare", hook, secret, instance_ids)],
        settings=own,
        stop_after=len(expected),
    )
    (tmp_path / "spec.json").write_bytes(spec.to_json())
    began = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.drains.bare_flow",
            str(tmp_path / "spec.json"),
            str(tmp_path / "out.json"),
            cwd=REPO_ROOT,
        )
        try:
            assert await asyncio.wait_for(process.wait(), 30) == 0
        finally:
            if process.returncode is None:
                process.kill()
        log = app[LOG]
    finally:
        await runner.cleanup()
    print(f"bare_flow drained {len(expected)} events in {time.monotonic() - began:.1f} s")

    assert Counter(log.event_ids) == Counter(expected)  # each once, no other
    assert all(log.signed), "every delivery verifies under the subscription's secret"
    counts = FlowCounts(**orjson.loads((tmp_path / "out.json").read_bytes()))
    assert counts.records == ENVELOPES
    assert counts.repeats > 0  # the backlog's resends were dropped, not delivered
    assert counts.events == counts.tasks == counts.delivered == len(expected)
    assert counts.failed == counts.invalid == 0

    flow = spec.loaded_settings()
    logged = await read_all(
        flow.kafka_bootstrap, flow.topic(Topic.DELIVERIES_ATTEMPTS), len(expected)
    )
    assert Counter(orjson.loads(value)["event_id"] for _, value in logged) == Counter(expected)
    assert {orjson.loads(value)["outcome"] for _, value in logged} == {"delivered"}
    marks = await read_all(flow.kafka_bootstrap, delivered_changelog(flow), len(expected))
    tasks = await read_all(flow.kafka_bootstrap, flow.topic(Topic.DELIVERIES), len(expected))
    webhook_ids = {decode_task(value).webhook_id for _, value in tasks}
    assert {orjson.loads(key) for key, _ in marks} == webhook_ids
    assert set(log.webhook_ids) == webhook_ids
