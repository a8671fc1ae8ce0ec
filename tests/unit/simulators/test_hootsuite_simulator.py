from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pipeline.simulators.hootsuite import SimulatorState, create_simulator

CLIENT_ID, CLIENT_SECRET = "demo-app", "demo-secret"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = {"startTime": "2026-03-01T00:00:00Z", "endTime": "2026-03-20T00:00:00Z"}


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState({CLIENT_ID: CLIENT_SECRET})


@pytest.fixture
async def server(state: SimulatorState) -> AsyncIterator[TestServer]:
    async with TestServer(create_simulator(state), host="127.0.0.1") as test_server:
        yield test_server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def grant(
    http: aiohttp.ClientSession, server: TestServer, secret: str = CLIENT_SECRET, **form: str
) -> tuple[int, Any]:
    async with http.post(
        server.make_url("/oauth2/token"),
        data=form or {"grant_type": "client_credentials"},
        headers={"Authorization": aiohttp.encode_basic_auth(CLIENT_ID, secret)},
    ) as response:
        return response.status, await response.json()


async def api_get(
    http: aiohttp.ClientSession, server: TestServer, path: str, params: Any = None
) -> tuple[int, Any, Mapping[str, str]]:
    _, token = await grant(http, server)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    async with http.get(server.make_url(path), params=params, headers=headers) as response:
        return response.status, await response.json(), response.headers


async def test_client_credentials_grant_answers_in_hootsuites_shape(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    state.expires_in = 120
    status, body = await grant(http, server)
    assert status == 200
    shape = {key: body[key] for key in ("token_Type", "expires_in", "scope")}
    assert shape == {"token_Type": "Bearer", "expires_in": 120, "scope": "offline"}
    assert body["access_token"] in state.access_tokens
    assert body["refresh_token"] in state.refresh_tokens


@pytest.mark.parametrize("secret", ["wrong", ""])
async def test_bad_client_credentials_get_401_errors_envelope(
    http: aiohttp.ClientSession, server: TestServer, secret: str
) -> None:
    status, body = await grant(http, server, secret=secret)
    assert status == 401
    assert body["errors"][0]["code"] == 40100
    assert "message" in body["errors"][0]


async def test_missing_basic_auth_is_401(http: aiohttp.ClientSession, server: TestServer) -> None:
    async with http.post(server.make_url("/oauth2/token"), data={"grant_type": "x"}) as response:
        assert response.status == 401


async def test_refresh_token_grant_rotates_the_refresh_token(
    http: aiohttp.ClientSession, server: TestServer
) -> None:
    _, first = await grant(http, server)
    status, second = await grant(
        http, server, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    reused, _ = await grant(
        http, server, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert reused == 400


async def test_messages_need_a_valid_unexpired_bearer_token(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    async with http.get(server.make_url("/v1/messages"), params=WINDOW) as response:
        assert response.status == 401
    _, token = await grant(http, server)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    url = server.make_url("/v1/messages")
    async with http.get(url, params=WINDOW, headers=headers) as response:
        assert response.status == 200
    state.expire_tokens()
    async with http.get(url, params=WINDOW, headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["errors"][0]["code"] == 40100


@pytest.mark.parametrize(
    "params",
    [
        {"endTime": "2026-03-20T00:00:00Z"},
        {"startTime": "2026-03-01T00:00:00Z"},
        {"startTime": "2026-03-01T00:00:00Z", "endTime": "2026-03-29T00:00:01Z"},
        {"startTime": "2026-03-10T00:00:00Z", "endTime": "2026-03-01T00:00:00Z"},
        {"startTime": "yesterday", "endTime": "2026-03-20T00:00:00Z"},
    ],
)
async def test_time_window_errors_are_40020(
    http: aiohttp.ClientSession, server: TestServer, params: dict[str, str]
) -> None:
    status, body, _ = await api_get(http, server, "/v1/messages", params)
    assert status == 400
    assert body["errors"][0]["code"] == 40020


async def test_exactly_four_weeks_is_allowed(
    http: aiohttp.ClientSession, server: TestServer
) -> None:
    params = {"startTime": "2026-03-01T00:00:00Z", "endTime": "2026-03-29T00:00:00Z"}
    status, _, _ = await api_get(http, server, "/v1/messages", params)
    assert status == 200


async def test_listing_is_sorted_filtered_and_paginated(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    later = state.add_message(T0 + timedelta(hours=2))
    first = state.add_message(T0, message_id="9000000009")
    tied = state.add_message(T0, message_id="9000000010")
    state.add_message(T0 + timedelta(days=40))  # outside the window
    middle = state.add_message(T0 + timedelta(hours=1))
    seen, cursor, pages = [], None, 0
    while True:
        params = {**WINDOW, "limit": "2", **({"cursor": cursor} if cursor else {})}
        status, body, _ = await api_get(http, server, "/v1/messages", params)
        assert status == 200
        assert len(body["data"]) <= 2
        seen += [message["id"] for message in body["data"]]
        pages += 1
        cursor = body["metadata"]["cursor"]["next"]
        if cursor is None:
            break
    assert seen == [first["id"], tied["id"], middle["id"], later["id"]]
    assert pages == 2


async def test_default_and_maximum_limit(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    for minute in range(51):
        state.add_message(T0 + timedelta(minutes=minute))
    _, body, _ = await api_get(http, server, "/v1/messages", WINDOW)
    assert len(body["data"]) == 50
    assert body["metadata"]["cursor"]["next"] is not None
    status, _, _ = await api_get(http, server, "/v1/messages", {**WINDOW, "limit": "101"})
    assert status == 400


async def test_state_and_profile_filters(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    sent = state.add_message(T0, state="SENT", social_profile_id="1")
    state.add_message(T0, state="SCHEDULED", social_profile_id="1")
    state.add_message(T0, state="SENT", social_profile_id="2")
    params = [*WINDOW.items(), ("state", "SENT"), ("socialProfileIds", "1")]
    _, body, _ = await api_get(http, server, "/v1/messages", params)
    assert [message["id"] for message in body["data"]] == [sent["id"]]
    # Filter values are the five documented ones, one per listing: SUBMITTED is not among them.
    for states in (["LOST"], ["SUBMITTED"], ["SENT", "REJECTED"]):
        query = [*WINDOW.items(), *(("state", value) for value in states)]
        status, body, _ = await api_get(http, server, "/v1/messages", query)
        assert (status, body["errors"][0]["code"]) == (400, 40000), states


async def test_single_message_is_an_array_unless_the_knob_says_object(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    message = state.add_message(T0, text="hello")
    _, body, _ = await api_get(http, server, f"/v1/messages/{message['id']}")
    assert body["data"] == [message]
    assert "sentAt" not in body["data"][0]
    state.single_message_as_object = True
    _, body, _ = await api_get(http, server, f"/v1/messages/{message['id']}")
    assert body["data"] == message


async def test_state_changes_bump_sequence_and_deletion_is_404(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    message = state.add_message(T0)
    state.set_state(message["id"], "PENDING_APPROVAL")
    _, body, _ = await api_get(http, server, f"/v1/messages/{message['id']}")
    assert body["data"][0]["state"] == "PENDING_APPROVAL"
    assert body["data"][0]["sequenceNumber"] == 2
    state.delete_message(message["id"])
    status, body, _ = await api_get(http, server, f"/v1/messages/{message['id']}")
    assert status == 404
    assert body["errors"][0]["code"] == 40400


def test_advance_sends_due_messages_only(state: SimulatorState) -> None:
    due = state.add_message(T0)
    future = state.add_message(T0 + timedelta(days=1))
    assert state.advance(T0 + timedelta(minutes=1)) == [due["id"]]
    assert state.messages[due["id"]]["state"] == "SENT"
    assert state.messages[due["id"]]["postId"] is not None
    assert state.messages[future["id"]]["state"] == "SCHEDULED"
    with pytest.raises(ValueError, match="unknown message state"):
        state.set_state(due["id"], "LOST")


async def test_throttle_and_unavailable_knobs(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    message = state.add_message(T0)
    path = f"/v1/messages/{message['id']}"
    state.throttle_next(1, endpoint="message", retry_after=2)
    state.fail_next(1, endpoint="message")
    status, body, headers = await api_get(http, server, path)
    assert (status, body["errors"][0]["code"], headers["Retry-After"]) == (429, 1003, "2")
    status, _, _ = await api_get(http, server, path)
    assert status == 503
    status, _, _ = await api_get(http, server, path)
    assert status == 200
    assert state.requests["message"] == 3
    assert state.requests["token"] == 3  # the token endpoint was never faulted


async def test_throttle_without_retry_after_sends_no_header(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    state.throttle_next(1, endpoint="messages")
    status, _, headers = await api_get(http, server, "/v1/messages", WINDOW)
    assert status == 429
    assert "Retry-After" not in headers


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/404", "/v1/nowhere"])
async def test_every_answer_carries_rate_limit_headers(
    http: aiohttp.ClientSession, server: TestServer, path: str
) -> None:
    _, _, headers = await api_get(http, server, path, WINDOW)
    assert headers["X-Account-Quota"] == "100000"
    assert int(headers["X-Account-Quota-Used"]) >= 2
    assert 0 <= int(headers["X-Account-Rate-Limit-Requests-Remaining"]) < 20


async def test_hang_knob_delays_answers_past_a_client_timeout(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    state.hang_seconds = 5.0
    timeout = aiohttp.ClientTimeout(total=0.1)
    with pytest.raises(TimeoutError):
        async with http.get(server.make_url("/v1/messages"), timeout=timeout):
            pass
    assert state.requests["messages"] == 1
