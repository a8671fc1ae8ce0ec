"""`sync_webhooks` and `missed_payloads` against the Oktopost simulator (real HTTP, no broker),
and the sync's guard against listings that miss webhooks."""

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
    await remove_webhooks(client, URL, forgotten)
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


async def test_a_webhook_the_listing_misses_is_kept_and_reported_not_created_again(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    first = next(iter(registry))
    state.hidden = {first}  # left out of Items, still counted in Total: an incomplete listing
    for _ in range(4):
        report = await sync_webhooks(client, INSTANCE, URL, registry)
        assert report.unlisted == {first: registry[first].event}
        assert (report.complete, report.created) == (False, 0)
    assert state.created == len(state.webhooks) == len(registry) == 19
    error = report.unlisted_error()
    assert error is not None
    assert error.code == "webhooks_unlisted"
    assert first in str(error)
    assert registry[first].secret not in str(error)


async def test_a_webhook_confirmed_missing_is_replaced_once_and_the_hidden_one_deleted(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    first = next(iter(registry))
    state.hidden, state.hidden_from_total = {first}, True  # the listing looks complete
    report = await sync_webhooks(client, INSTANCE, URL, registry)
    assert (report.complete, report.created, set(report.unlisted)) == (True, 1, {first})
    assert first in registry  # its pushes still verify until the replacement is listed
    report = await sync_webhooks(client, INSTANCE, URL, registry)
    assert (report.unlisted, report.created) == ({}, 0)
    assert first not in registry
    assert first not in state.webhooks  # deleted by id, though never listed
    assert state.created == 20
    assert len(state.webhooks) == len(registry) == 19


async def test_a_listing_that_keeps_missing_an_event_costs_one_extra_webhook_in_all(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    first = next(iter(registry))
    state.hidden, state.hidden_from_total = {first}, True
    before = set(registry)
    await sync_webhooks(client, INSTANCE, URL, registry)
    [replacement] = set(registry) - before
    state.hidden.add(replacement)  # the replacement is not listed either
    for _ in range(4):
        report = await sync_webhooks(client, INSTANCE, URL, registry)
        assert (set(report.unlisted), report.created) == ({first, replacement}, 0)
    assert state.created == 20
    await remove_webhooks(client, URL, registry)  # deleting the instance leaves none behind
    assert state.webhooks == {}


async def test_before_the_paging_fix_the_guard_alone_stops_the_multiplying(
    client: OktopostClient, state: OktopostState
) -> None:
    """A client reading pages from 1 saw no webhook at all; the guard keeps the 19."""
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    state.hidden = set(state.webhooks)
    for _ in range(3):
        report = await sync_webhooks(client, INSTANCE, URL, registry)
        assert (len(report.unlisted), report.listed, report.total) == (19, 0, 19)
    assert state.created == 19


async def test_a_webhook_disabled_as_text_is_enabled_again(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    first = next(iter(registry))
    state.webhooks[first]["IsEnabled"] = "0"  # the form a PHP API may answer with
    await sync_webhooks(client, INSTANCE, URL, registry)
    assert state.webhooks[first]["IsEnabled"] is True


async def test_a_new_public_url_moves_the_webhooks_instead_of_registering_them_again(
    client: OktopostClient, state: OktopostState
) -> None:
    registry: Registry = {}
    await sync_webhooks(client, INSTANCE, URL, registry)
    moved = URL.replace("pipeline.example.com", "events.example.com")
    report = await sync_webhooks(client, INSTANCE, moved, registry)
    assert (report.unlisted, report.created, state.created) == ({}, 0, 19)
    assert {w["Url"] for w in state.webhooks.values()} == {moved}
