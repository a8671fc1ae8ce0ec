"""The Oktopost simulator answers as Oktopost's documentation says: `_page` from 0 (default 0),
`_count` 20/25/50/100 (default 20), `Total` in list answers, the `Secret` in the create answer only,
and the webhook log's `Payload` as `{event, data}`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pipeline.simulators.oktopost import OktopostState, create_simulator

ACCOUNT, API_KEY = "00A000000000001", "okto-key"
URL = "https://in.example/h"


@pytest.fixture
def state() -> OktopostState:
    return OktopostState({ACCOUNT: API_KEY}, retry_schedule=())


@pytest.fixture
async def call(state: OktopostState) -> AsyncIterator[Any]:
    async with (
        TestServer(create_simulator(state), host="127.0.0.1") as server,
        aiohttp.ClientSession() as session,
    ):

        async def request(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
            headers = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT, API_KEY)}
            url = server.make_url(path)
            async with session.request(method, url, headers=headers, **kwargs) as response:
                return response.status, await response.json()

        yield request


def add(state: OktopostState, count: int) -> list[str]:
    return [state.create({"event": "postSent", "url": URL})["Id"] for _ in range(count)]


async def test_pages_count_from_0_and_default_to_the_first_20(
    state: OktopostState, call: Any
) -> None:
    ids = add(state, 45)
    status, first = await call("GET", "/v2/webhook")
    assert status == 200
    assert [w["Id"] for w in first["Items"]] == ids[:20]
    assert first["Total"] == 45
    assert (await call("GET", "/v2/webhook", params={"_page": "0"}))[1] == first
    second = (await call("GET", "/v2/webhook", params={"_page": "1", "_count": "20"}))[1]
    assert [w["Id"] for w in second["Items"]] == ids[20:40]
    last = (await call("GET", "/v2/webhook", params={"_page": "0", "_count": "50"}))[1]
    assert [w["Id"] for w in last["Items"]] == ids
    beyond = (await call("GET", "/v2/webhook", params={"_page": "3"}))[1]
    assert (beyond["Items"], beyond["Total"]) == ([], 45)


@pytest.mark.parametrize("params", [{"_count": "30"}, {"_count": "10"}, {"_page": "-1"}])
async def test_other_page_sizes_and_negative_pages_are_refused(
    call: Any, params: dict[str, str]
) -> None:
    status, body = await call("GET", "/v2/webhook", params=params)
    assert (status, body["Result"]) == (400, False)


async def test_the_secret_is_shown_in_the_create_answer_only(
    state: OktopostState, call: Any
) -> None:
    form = {"event": "newLead", "name": "n", "url": URL, "isEnabled": "1"}
    status, created = await call("POST", "/v2/webhook", data=form)
    assert status == 200
    webhook_id = created["Webhook"]["Id"]
    assert len(created["Webhook"]["Secret"]) >= 20
    listed = (await call("GET", "/v2/webhook"))[1]["Items"]
    got = (await call("GET", f"/v2/webhook/{webhook_id}"))[1]["Webhook"]
    updated = (await call("POST", f"/v2/webhook/{webhook_id}", data={"name": "m"}))[1]["Webhook"]
    fields = {"Id", "Name", "Description", "Event", "Url", "LastExecutionDate", "IsEnabled"}
    for shown in (*listed, got, updated):
        assert "Secret" not in shown
        assert fields | {"Created", "Modified"} == set(shown)
    assert (await call("GET", "/v2/webhook/0WHnone"))[0] == 404


async def test_the_log_is_paged_with_a_total_and_holds_event_and_data_only(
    state: OktopostState, call: Any
) -> None:
    [webhook_id] = add(state, 1)
    assert state.emit("postSent", {"postId": "P1"}) == 1
    await state.settled()  # no receiver: one attempt, abandoned (no retries configured)
    status, answer = await call("GET", f"/v2/webhook-log/{webhook_id}")
    assert (status, answer["Total"]) == (200, 1)
    [entry] = answer["Items"]
    assert entry["Payload"] == {"event": "postSent", "data": {"postId": "P1"}}
    assert set(entry) == {"Id", "WebhookPayloadId", "Created", "ResponseCode", "ExecutionTime",
                          "Payload"}  # fmt: skip


async def test_a_hidden_webhook_is_left_out_of_items_and_optionally_of_the_total(
    state: OktopostState, call: Any
) -> None:
    ids = add(state, 3)
    state.hidden = {ids[0]}
    listed = (await call("GET", "/v2/webhook"))[1]
    assert ([w["Id"] for w in listed["Items"]], listed["Total"]) == (ids[1:], 3)
    state.hidden_from_total = True
    assert (await call("GET", "/v2/webhook"))[1]["Total"] == 2
