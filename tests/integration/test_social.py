"""The social platforms on the real broker and real HTTP: each platform's verification answered,
its signed sample accepted and resent, and exactly one event per occurrence on events.normalized."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pipeline.events.catalog import Catalog
from pipeline.providers.youtube import feed_topic
from pipeline.settings import REPO_ROOT
from pipeline.simulators.social import (
    EXPECTED_TYPES,
    SAMPLES,
    sample,
    signed_request,
    youtube_feed,
)
from pipeline.simulators.websub import HubState, create_hub
from tests.integration.conftest import Stack
from tests.integration.test_ingest import new_instance, path_of
from tests.integration.test_poller import Pollers, eventually
from tests.support.kafka import read_topic
from tests.support.processes import free_port

pytestmark = pytest.mark.integration
CATALOG = Catalog(REPO_ROOT / "topics")
SECRET = "platform-secret"
SETTLE_SECONDS = 3.0  # how long nothing more may arrive after the expected events
LEASE_SECONDS = 20  # short, so that a renewal is seen within the test


async def _get(stack: Stack, path: str, params: dict[str, str]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.base_url + path, params=params) as response,
    ):
        return response.status, await response.read()


async def _post_twice(stack: Stack, instance: dict[str, Any], body: bytes) -> None:
    provider = instance["provider"]
    for _ in range(2):  # the platform's delivery and its retry
        headers = signed_request(provider, SECRET, body)
        status, text = await stack.post(path_of(instance), body, headers)
        assert status == 202, text


async def test_each_platform_verified_signed_resent_and_normalized_once(stack: Stack) -> None:
    token = "vt-" + uuid.uuid4().hex
    instances: dict[str, dict[str, Any]] = {}
    for provider in sorted(SAMPLES):
        extra = {"verify_token": token} if provider == "meta" else {}
        instances[provider] = await new_instance(stack, provider, signing_secret=SECRET, **extra)
    meta = instances["meta"]
    assert "verify_token" not in meta  # sealed and write-only, as every secret
    query = {"hub.mode": "subscribe", "hub.challenge": "c-17", "hub.verify_token": "wrong"}
    assert (await _get(stack, path_of(meta), query))[0] == 403
    assert await _get(stack, path_of(meta), {**query, "hub.verify_token": token}) == (200, b"c-17")
    for provider, instance in instances.items():
        for name in sorted(SAMPLES[provider]):
            await _post_twice(stack, instance, sample(provider, name))
        forged = signed_request(provider, "forged", sample(provider, sorted(SAMPLES[provider])[0]))
        assert (await stack.post(path_of(instance), b"{}", forged))[0] == 401

    sources = {f"/instances/{i['id']}": p for p, i in instances.items()}
    expected = {p: sorted(EXPECTED_TYPES[p].values()) for p in instances}

    def found(values: list[Any]) -> dict[str, list[str]]:
        types: dict[str, list[str]] = {p: [] for p in instances}
        for value in values:
            if value and value["source"] in sources:
                assert CATALOG.violation(value) is None, value
                types[sources[value["source"]]].append(value["type"])
        return {p: sorted(t) for p, t in types.items()}

    values = await read_topic(
        stack.settings.kafka_bootstrap,
        stack.topic("events.normalized"),
        until=lambda values: all(len(found(values)[p]) >= len(expected[p]) for p in instances),
        settle=SETTLE_SECONDS,
    )
    assert found(values) == expected  # one event per occurrence: the resends were dropped


@contextlib.asynccontextmanager
async def _hub(state: HubState) -> AsyncIterator[str]:
    runner = web.AppRunner(create_hub(state), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def pollers(stack: Stack) -> AsyncIterator[Pollers]:
    running = Pollers(stack)
    yield running
    if running.current is not None:
        log = running.current.log_tail
        assert await running.stop() == 0, log()  # SIGTERM: a clean shutdown


async def test_youtube_is_subscribed_pushed_and_renewed_before_its_lease_ends_across_a_restart(
    stack: Stack, pollers: Pollers
) -> None:
    hub = HubState(lease_seconds=LEASE_SECONDS)  # granted, whatever the manager asks for
    channel = "UC" + uuid.uuid4().hex[:22]
    topic = feed_topic(channel)
    async with _hub(hub) as hub_url:
        instance = await new_instance(stack, "youtube", channels=[channel], api_base_url=hub_url)
        assert instance["signing_secret"]  # hub.secret: generated, shown once
        await pollers.start()
        await eventually(lambda: _verified(hub, topic) >= 1, "the hub's first verification")
        first = next(at for at, mode, t, _ in hub.verified if t == topic and mode == "subscribe")
        video = youtube_feed(video_id="v" + uuid.uuid4().hex[:10], channel_id=channel)
        assert await hub.publish(topic, video) == [202]
        assert await hub.publish(topic, video) == [202]  # the hub's retry
        await pollers.stop()
        await pollers.start()  # the lease is on Kafka: the new one renews it on time
        await eventually(
            lambda: _verified(hub, topic) >= 2, "a renewal", seconds=LEASE_SECONDS + 10
        )
    renewed = [at for at, mode, t, _ in hub.verified if t == topic and mode == "subscribe"][1]
    asked = [at for at, mode, t in hub.requests if t == topic]
    assert renewed < first + LEASE_SECONDS  # before the lease ended
    assert asked[1] >= first + LEASE_SECONDS * 2 / 3 - 1  # not at the restart: when due
    source = f"/instances/{instance['id']}"
    values = await read_topic(
        stack.settings.kafka_bootstrap,
        stack.topic("events.normalized"),
        until=lambda values: any(v and v["source"] == source for v in values),
        settle=SETTLE_SECONDS,
    )
    mine = [v for v in values if v and v["source"] == source]
    assert [(v["type"], v["data"]["channel_id"]) for v in mine] == [("video.published", channel)]


def _verified(hub: HubState, topic: str) -> int:
    return sum(1 for _, mode, t, _ in hub.verified if t == topic and mode == "subscribe")
