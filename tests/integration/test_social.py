"""The social platforms on the real broker and real HTTP: each platform's verification answered,
its signed sample accepted and resent, and exactly one event per occurrence on events.normalized."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from pipeline.events.catalog import Catalog
from pipeline.settings import REPO_ROOT
from pipeline.simulators.social import EXPECTED_TYPES, SAMPLES, sample, signed_request
from tests.integration.conftest import Stack
from tests.integration.test_ingest import new_instance, path_of
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration
CATALOG = Catalog(REPO_ROOT / "topics")
SECRET = "platform-secret"
SETTLE_SECONDS = 3.0  # how long nothing more may arrive after the expected events


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
