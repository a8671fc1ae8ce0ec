"""A managed Oktopost instance against the Oktopost simulator, which pages as Oktopost documents
(`_page` from 0): its 19 webhooks registered once and exactly 19 on the account through sync
rounds and a restart, each push verified by its own Secret, an ingress outage longer than
Oktopost's retries healed by reading the webhook log — every event delivered exactly once — and
none left once the instance is deleted. A listing that misses a webhook is reported, not obeyed.

Real broker, real `pipeline ingress`/`worker`/`poller` processes; the simulator (with Oktopost's
retry schedule shortened to 0.3 s, 0.6 s, 0.9 s) and the receiver run in the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from pipeline.providers.oktopost import EVENT_MAP
from pipeline.simulators.oktopost import OktopostState, create_simulator
from tests.integration.conftest import Stack, ingress_process
from tests.integration.test_ingest import path_of
from tests.integration.test_poller import Pollers, eventually
from tests.support.processes import free_port
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

ACCOUNT, API_KEY = "00A000000000001", "okto-api-key-value"
ID_FIELD = {event: fields[0] for event, (_, fields, _) in EVENT_MAP.items()}


@contextlib.asynccontextmanager
async def serve(state: OktopostState) -> AsyncIterator[str]:
    runner = web.AppRunner(create_simulator(state), access_log=None, shutdown_timeout=0.5)
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


async def managed_instance(stack: Stack, url: str, api_key: str = API_KEY) -> dict[str, Any]:
    body = {
        "provider": "oktopost",
        "id": f"okm-{uuid.uuid4().hex[:8]}",
        "api_base_url": url,
        "credentials": {"account_id": ACCOUNT, "api_key": api_key},
        "reconcile_interval_seconds": 5,
    }
    status, created = await stack.admin("POST", "/v1/instances", body)
    assert status == 201, created
    return dict(created)


async def registered(stack: Stack, instance_id: str) -> set[str]:
    """The ids of the webhooks the ingress knows the Secret of, for the instance."""
    status, shown = await stack.admin("GET", f"/v1/instances/{instance_id}")
    assert status == 200
    assert all("secret" not in str(webhook).lower() for webhook in shown["oktopost_webhooks"])
    return {webhook["id"] for webhook in shown["oktopost_webhooks"]}


async def health(stack: Stack, instance_id: str) -> dict[str, Any]:
    shown = (await stack.admin("GET", f"/v1/instances/{instance_id}"))[1]
    return dict(shown["health"] or {})


async def wait_health(stack: Stack, instance_id: str, status: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 30
    while (found := await health(stack, instance_id)).get("status") != status:
        assert asyncio.get_running_loop().time() < deadline, f"not {status} in 30 s: {found}"
        await asyncio.sleep(0.2)
    return found


async def rounds(provider: OktopostState, count: int) -> None:
    """Until `count` more syncs read every webhook's log (19 log reads each)."""
    reads = provider.log_reads
    await eventually(lambda: provider.log_reads >= reads + 19 * count, f"{count} sync rounds")


async def wait_registered(stack: Stack, instance_id: str, provider: OktopostState) -> None:
    """Until Oktopost holds 19 webhooks and the ingress the Secrets of exactly those."""
    deadline = asyncio.get_running_loop().time() + 30
    while (ids := await registered(stack, instance_id)) != set(provider.webhooks) or len(ids) != 19:
        assert asyncio.get_running_loop().time() < deadline, "webhooks not registered in 30 s"
        await asyncio.sleep(0.2)


def emit_all(provider: OktopostState, tag: str) -> set[str]:
    """One push of every event type; the subjects' ids, for counting deliveries."""
    ids = set()
    for event in EVENT_MAP:
        object_id = f"{tag}-{event}"
        data = {ID_FIELD[event]: object_id, "createdAt": "2025-11-20 12:30:00"}
        assert provider.emit(event, data) == 1
        ids.add(object_id)
    return ids


def delivered_ids(receiver: Receiver) -> Counter[str]:
    return Counter(orjson.loads(r.body)["subject"].split("/", 1)[1] for r in receiver.received)


async def test_webhooks_registered_once_verified_each_and_reconciled_after_an_outage(
    stack: Stack, pollers: Pollers
) -> None:
    provider = OktopostState({ACCOUNT: API_KEY}, retry_schedule=(0.3, 0.6, 0.9))
    receiver = await Receiver().start()
    try:
        async with serve(provider) as url:
            instance = await managed_instance(stack, url)
            body = {"name": "okm", "url": receiver.url, "instance_ids": [instance["id"]]}
            assert (await stack.admin("POST", "/v1/subscriptions", body))[0] == 201
            await pollers.start()
            await wait_registered(stack, instance["id"], provider)
            await rounds(provider, 2)
            assert len(provider.webhooks) == 19
            await pollers.stop()
            await pollers.start()  # a restart registers nothing again
            await rounds(provider, 2)
            assert provider.created == len(provider.webhooks) == 19
            assert await registered(stack, instance["id"]) == set(provider.webhooks)
            assert (await health(stack, instance["id"]))["status"] == "healthy"
            assert sorted(w["Event"] for w in provider.webhooks.values()) == sorted(EVENT_MAP)
            assert {w["Url"] for w in provider.webhooks.values()} == {instance["webhook_url"]}

            pushed = emit_all(provider, "live")
            await provider.settled()
            assert (provider.delivered, provider.abandoned) == (19, 0)  # each by its own Secret
            assert [[e["ResponseCode"] for e in log] for log in provider.logs.values()] == [
                [202]
            ] * 19
            await _a_secret_of_another_webhook_is_refused(stack, instance, provider)
            # Received by the ingress 4 times, logged as failed: read back, it is the same event.
            provider.lose_answers = 1
            assert provider.emit("postSent", {"postId": "lost-answer", "sentAt": "2025-11-20"})
            await provider.settled()
            assert provider.abandoned == 1

            await asyncio.to_thread(stack.ingress.stop)  # longer than Oktopost's 3 retries
            missed = emit_all(provider, "missed")
            await provider.settled()
            assert provider.abandoned == 20
            stack.ingress = await asyncio.to_thread(
                ingress_process(stack.settings, stack.directory).start
            )
            await receiver.wait_for(39, timeout=60)
            # Two more readings of every log must add nothing (nor must any late push).
            await rounds(provider, 2)
            assert provider.created == len(provider.webhooks) == 19
            assert (await stack.admin("DELETE", f"/v1/instances/{instance['id']}"))[0] == 204
            await eventually(lambda: not provider.webhooks, "the webhooks deleted")
    finally:
        await receiver.stop()

    counts = delivered_ids(receiver)
    assert set(counts) == pushed | missed | {"lost-answer"}
    assert set(counts.values()) == {1}, counts  # exactly once, pushed or recovered


async def _a_secret_of_another_webhook_is_refused(
    stack: Stack, instance: dict[str, Any], provider: OktopostState
) -> None:
    first, second = list(provider.webhooks.values())[:2]
    body = orjson.dumps(
        {"event": first["Event"], "timestamp": 1, "webhookId": first["Id"], "data": {"id": "x"}}
    )
    signed_by_other = hmac.new(second["Secret"].encode(), body, hashlib.sha256).hexdigest()
    status, _ = await stack.post(path_of(instance), body, {"X-Oktopost-Signature": signed_by_other})
    assert status == 401
    unknown = orjson.loads(body) | {"webhookId": "0WHnot-mine"}
    forged = orjson.dumps(unknown)
    empty_key = hmac.new(b"", forged, hashlib.sha256).hexdigest()
    assert (await stack.post(path_of(instance), forged, {"X-Oktopost-Signature": empty_key}))[
        0
    ] == 401


async def test_bad_credentials_show_in_the_health_and_deleting_removes_the_webhooks(
    stack: Stack, pollers: Pollers
) -> None:
    provider = OktopostState({ACCOUNT: API_KEY})
    async with serve(provider) as url:
        wrong = await managed_instance(stack, url, api_key="wrong")
        right = await managed_instance(stack, url)
        await pollers.start()

        shown = await wait_health(stack, wrong["id"], "unhealthy")
        assert shown["reason"] == "auth_failed"
        assert "wrong" not in str(shown)

        await wait_registered(stack, right["id"], provider)
        path = f"/v1/instances/{right['id']}"
        assert (await stack.admin("PATCH", path, {"name": "renamed"}))[0] == 200
        await eventually(
            lambda: all(w["Name"].startswith("renamed") for w in provider.webhooks.values()),
            "the webhooks renamed",
        )
        assert (await stack.admin("PATCH", path, {"enabled": False}))[0] == 200
        await eventually(
            lambda: not provider.webhooks, "the webhooks of a disabled instance deleted"
        )
        assert (await stack.admin("PATCH", path, {"enabled": True}))[0] == 200
        await wait_registered(stack, right["id"], provider)
        assert len(provider.webhooks) == 19
        assert (await stack.admin("DELETE", path))[0] == 204
        await eventually(lambda: not provider.webhooks, "the webhooks deleted")
        assert (await stack.admin("DELETE", f"/v1/instances/{wrong['id']}"))[0] == 204


async def test_a_webhook_missing_from_the_listing_is_reported_not_registered_again(
    stack: Stack, pollers: Pollers
) -> None:
    provider = OktopostState({ACCOUNT: API_KEY})
    async with serve(provider) as url:
        instance = await managed_instance(stack, url)
        await pollers.start()
        await wait_registered(stack, instance["id"], provider)
        first = next(iter(provider.webhooks))
        provider.hidden = {first}  # left out of the listing's Items; its Total still counts it
        shown = await wait_health(stack, instance["id"], "unhealthy")
        assert shown["reason"] == "webhooks_unlisted"
        assert first in shown["message"]
        await rounds(provider, 2)
        assert provider.created == len(provider.webhooks) == 19
        assert first in await registered(stack, instance["id"])  # its Secret kept
        assert await unlisted_counted(stack, "incomplete") >= 3
        event = provider.webhooks[first]["Event"]
        assert provider.emit(event, {ID_FIELD[event]: "from-the-hidden-one"}) == 1
        await provider.settled()
        assert (provider.delivered, provider.abandoned) == (1, 0)  # still verified

        provider.hidden_from_total = True  # a complete listing: replaced once, then deleted
        await eventually(lambda: first not in provider.webhooks, "the unlisted one deleted")
        await wait_health(stack, instance["id"], "healthy")
        assert provider.created == 20
        assert await registered(stack, instance["id"]) == set(provider.webhooks)
        assert len(provider.webhooks) == 19
        assert await unlisted_counted(stack, "complete") >= 1
        assert (await stack.admin("DELETE", f"/v1/instances/{instance['id']}"))[0] == 204
        await eventually(lambda: not provider.webhooks, "the webhooks deleted")


async def unlisted_counted(stack: Stack, listing: str) -> float:
    """The poller's `pipeline_oktopost_webhooks_unlisted_total` for one kind of listing."""
    url = f"http://127.0.0.1:{stack.settings.poller_port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    sample = f'pipeline_oktopost_webhooks_unlisted_total{{listing="{listing}"}} '
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(sample))
