"""`sync_webhooks` and `missed_payloads` against the Oktopost simulator (real HTTP, no broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest
from aiohttp.test_utils import TestServer

from pipeline.config.instances import create_instance
from pipeline.oktopost.api import OktopostAccount, OktopostClient
from pipeline.oktopost.sync import Registry, missed_payloads, remove_webhooks, sync_webhooks
from pipeline.providers.errors import AuthError
from pipeline.simulators.oktopost import OktopostState, create_simulator

URL = "https://pipeline.example.com/v1/webhooks/oktopost/b2s"
INSTANCE, _ = create_instance(
    {"provider": "oktopost", "name": "okto", "credentials": {"account_id": "a", "api_key": "k"}}
)


@pytest.fixture
def state() -> OktopostState:
    return OktopostState({"a": "k"})


@pytest.fixture
async def client(state: OktopostState) -> AsyncIterator[OktopostClient]:
    async with (
        TestServer(create_simulator(state), host="127.0.0.1") as server,
        aiohttp.ClientSession() as session,
    ):
        yield OktopostClient(session, OktopostAccount(str(server.make_url("")), "a", "k"))


async def test_a_second_sync_registers_nothing(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    assert len(registry) == state.created == 19
    await sync_webhooks(client, INSTANCE, URL, dict(registry))
    assert state.created == 19


async def test_fewer_events_delete_the_rest_and_an_unknown_secret_is_replaced(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    fewer = msgspec.structs.replace(INSTANCE, oktopost_events=["postSent", "newLead"])
    forgotten = {i: w for i, w in registry.items() if w.event == "newLead"}
    await sync_webhooks(client, fewer, URL, forgotten)  # postSent's Secret is unknown
    assert sorted(w["Event"] for w in state.webhooks.values()) == ["newLead", "postSent"]
    assert sorted(w.event for w in forgotten.values()) == ["newLead", "postSent"]
    assert state.created == 20
    await remove_webhooks(client, URL)
    assert state.webhooks == {}


async def test_only_pushes_never_answered_2xx_are_missed(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(
        client, msgspec.structs.replace(INSTANCE, oktopost_events=["postSent"]), URL, registry
    )
    [webhook_id] = registry
    state.logs[webhook_id] += [
        {
            "Id": "1",
            "WebhookPayloadId": "p1",
            "ResponseCode": 500,
            "Payload": {"event": "postSent"},
        },
        {
            "Id": "2",
            "WebhookPayloadId": "p1",
            "ResponseCode": 202,
            "Payload": {"event": "postSent"},
        },
        {"Id": "3", "WebhookPayloadId": "p2", "ResponseCode": 0, "Payload": {"event": "postSent"}},
    ]
    seen: set[str] = set()
    missed = await missed_payloads(client, registry, seen)
    assert [(w, p) for w, p, _ in missed] == [(webhook_id, "p2")]
    assert seen == {"p1"}


async def test_a_wrong_api_key_is_an_auth_error(state: OktopostState) -> None:
    async with (
        TestServer(create_simulator(state), host="127.0.0.1") as server,
        aiohttp.ClientSession() as session,
    ):
        wrong = OktopostClient(session, OktopostAccount(str(server.make_url("")), "a", "nope"))
        with pytest.raises(AuthError):
            await wrong.webhooks()


async def test_a_long_log_is_read_page_by_page(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(
        client, msgspec.structs.replace(INSTANCE, oktopost_events=["newLead"]), URL, registry
    )
    [webhook_id] = registry
    state.logs[webhook_id] += [
        {"Id": str(n), "WebhookPayloadId": f"p{n}", "ResponseCode": 0, "Payload": {"n": n}}
        for n in range(250)
    ]
    missed = await missed_payloads(client, registry, set())
    assert sorted(payload_id for _, payload_id, _ in missed) == sorted(f"p{n}" for n in range(250))
