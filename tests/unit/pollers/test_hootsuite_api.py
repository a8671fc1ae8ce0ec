from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pipeline.errors import KafkaUnavailableError
from pipeline.pollers.hootsuite_api import (
    BACKOFF_BASE,
    WINDOW_JITTER,
    HootsuiteClient,
    HootsuiteCredentials,
)
from pipeline.pollers.rate_limit import TokenBucket
from pipeline.providers.errors import (
    AuthError,
    ProviderResponseError,
    ProviderUnavailableError,
    RateLimitedError,
)
from pipeline.simulators.hootsuite import SimulatorState, create_simulator

CLIENT_ID, CLIENT_SECRET = "poller-app", "poller-secret-value"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START, END = T0 - timedelta(days=1), T0 + timedelta(days=7)


class FakeTime:
    """A clock that sleeps jump forward instantly; every sleep is recorded.

    By default it also follows real time, so the time real HTTP round trips take counts (as it
    would against Hootsuite) and a generous rate limit never has to wait.
    """

    def __init__(self, *, start: float = 1_800_000_000.25, follow_real: bool = True) -> None:
        self._origin = time.monotonic() if follow_real else None
        self._offset = start
        self.delays: list[float] = []

    def clock(self) -> float:
        real = time.monotonic() - self._origin if self._origin is not None else 0.0
        return self._offset + real

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self._offset += seconds
        await asyncio.sleep(0)


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


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(
    http: aiohttp.ClientSession, server: TestServer, fake_time: FakeTime
) -> Callable[..., HootsuiteClient]:
    def make(**options: Any) -> HootsuiteClient:
        options.setdefault("credentials", HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET))
        options.setdefault("max_requests_per_second", 1e6)
        options.setdefault("clock", fake_time.clock)
        options.setdefault("sleep", fake_time.sleep)
        # Seeded, so jittered delays repeat from run to run; nothing here is secret.
        options.setdefault("rng", random.Random(7))  # noqa: S311
        return HootsuiteClient(http, str(server.make_url("")), **options)

    return make


def add_messages(state: SimulatorState, count: int) -> list[str]:
    return [state.add_message(T0 + timedelta(minutes=n))["id"] for n in range(count)]


async def collect(client: HootsuiteClient, **options: Any) -> list[str]:
    return [message["id"] async for message in client.list_messages(START, END, **options)]


async def test_listing_follows_the_cursor_across_pages(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    expected = add_messages(state, 7)
    state.add_message(END + timedelta(days=1))  # outside the window
    assert await collect(make_client(), limit=3) == expected
    assert state.requests["messages"] == 3
    assert state.requests["token"] == 1


async def test_listing_sends_state_and_profile_filters(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    sent = state.add_message(T0, state="SENT", social_profile_id="7")["id"]
    rejected = state.add_message(T0, state="REJECTED", social_profile_id="7")["id"]
    state.add_message(T0, state="SCHEDULED", social_profile_id="7")
    state.add_message(T0, state="SENT", social_profile_id="8")
    found = await collect(make_client(), states=["SENT", "REJECTED"], social_profile_ids=[7])
    assert found == [sent, rejected]


@pytest.mark.parametrize(
    ("start", "end", "limit"),
    [
        (T0, T0 + timedelta(weeks=4, seconds=1), 100),
        (T0, T0 - timedelta(seconds=1), 100),
        (T0.replace(tzinfo=None), T0.replace(tzinfo=None), 100),
        (T0, T0, 101),
    ],
)
async def test_listing_arguments_are_checked_before_any_request(
    make_client: Callable[..., HootsuiteClient],
    state: SimulatorState,
    start: datetime,
    end: datetime,
    limit: int,
) -> None:
    with pytest.raises(ValueError, match=r"start|end|limit"):
        make_client().list_messages(start, end, limit=limit)
    assert sum(state.requests.values()) == 0


@pytest.mark.parametrize("as_object", [False, True])
async def test_get_message_accepts_array_and_object_shapes(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState, as_object: bool
) -> None:
    state.single_message_as_object = as_object
    message = state.add_message(T0, text="launch day")
    assert await make_client().get_message(message["id"]) == message


async def test_get_message_is_none_when_unknown(
    make_client: Callable[..., HootsuiteClient],
) -> None:
    assert await make_client().get_message("9999") is None


async def test_bad_credentials_raise_a_non_retriable_auth_error_without_the_secret(
    make_client: Callable[..., HootsuiteClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(credentials=HootsuiteCredentials(CLIENT_ID, "not-the-secret"))
    with pytest.raises(AuthError) as raised:
        await client.get_message("1")
    assert raised.value.retriable is False
    assert "401" in str(raised.value)
    assert "not-the-secret" not in str(raised.value) + caplog.text
    assert "not-the-secret" not in repr(HootsuiteCredentials(CLIENT_ID, "not-the-secret"))


async def test_refresh_token_grant_keeps_the_rotated_refresh_token(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    refresh = state.issue_tokens(CLIENT_ID)["refresh_token"]
    message = state.add_message(T0)
    client = make_client(credentials=HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET, refresh))
    assert await client.get_message(message["id"]) == message
    assert refresh not in state.refresh_tokens  # used, so the simulator rotated it
    state.expire_tokens()
    # Only the rotated refresh token is still accepted by the simulator.
    assert await client.get_message(message["id"]) == message
    assert client.stats.token_refreshes == 1


async def test_token_is_renewed_before_it_expires(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState, fake_time: FakeTime
) -> None:
    state.expires_in = 120
    message = state.add_message(T0)
    client = make_client()
    await client.get_message(message["id"])
    fake_time.advance(61)  # inside the renewal margin, though the token still works
    await client.get_message(message["id"])
    assert state.requests["token"] == 2
    assert state.requests["message"] == 2  # no request was refused first
    assert client.stats.token_refreshes == 1


async def test_token_expiry_mid_pagination_renews_once_and_loses_nothing(
    make_client: Callable[..., HootsuiteClient],
    state: SimulatorState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    expected = add_messages(state, 6)
    client = make_client()
    seen = []
    async for message in client.list_messages(START, END, limit=2):
        seen.append(message["id"])
        if len(seen) == 2:
            state.expire_tokens()
    assert seen == expected
    assert client.stats.token_refreshes == 1
    assert state.requests["token"] == 2
    assert state.requests["messages"] == 4  # three pages, one of them refused once
    assert not any(token in caplog.text for token in state.access_tokens)


async def test_token_refused_right_after_renewal_is_an_auth_error(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    state.expires_in = 0  # every token the simulator issues is already expired
    with pytest.raises(AuthError):
        await make_client().get_message("1")
    assert state.requests["message"] == 2


async def test_429_with_retry_after_waits_that_long_capped(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState, fake_time: FakeTime
) -> None:
    message = state.add_message(T0)
    state.throttle_next(1, endpoint="message", retry_after=3)
    state.throttle_next(1, endpoint="message", retry_after=600)
    client = make_client(retry_after_cap=60.0)
    assert await client.get_message(message["id"]) == message
    assert fake_time.delays == [3.0, 60.0]
    assert client.stats.rate_limit_waits == 2
    assert client.stats.retries == 2


async def test_429_with_an_http_date_retry_after_waits_until_that_date(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState, fake_time: FakeTime
) -> None:
    # The client once read only delta-seconds and took an HTTP-date for no header at all.
    message = state.add_message(T0)
    state.throttle_next(1, endpoint="message", retry_after=formatdate(1_800_000_020, usegmt=True))
    client = make_client(retry_after_cap=60.0)
    assert await client.get_message(message["id"]) == message
    [delay] = fake_time.delays
    assert 18.0 < delay <= 19.75  # the date is whole seconds; the clock starts at …000.25


async def test_429_without_retry_after_waits_for_the_next_second(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState, fake_time: FakeTime
) -> None:
    message = state.add_message(T0)
    state.throttle_next(2, endpoint="message")
    client = make_client()
    assert await client.get_message(message["id"]) == message
    assert len(fake_time.delays) == 2
    assert all(0.0 < delay <= 1.0 + WINDOW_JITTER for delay in fake_time.delays)
    # Each wait ends in the next whole second of the clock (the provider's next window).
    assert int(fake_time.clock()) >= int(1_800_000_000.25) + 2
    assert client.stats.rate_limit_waits == 2


async def test_429_forever_raises_a_retriable_rate_limited_error(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    state.throttle_next(50, endpoint="message")
    client = make_client(max_retries=2)
    with pytest.raises(RateLimitedError) as raised:
        await client.get_message("1")
    assert raised.value.retriable is True
    assert state.requests["message"] == 3


async def test_503_then_success_backs_off_with_jitter(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState, fake_time: FakeTime
) -> None:
    message = state.add_message(T0)
    state.fail_next(3, endpoint="message")
    client = make_client()
    assert await client.get_message(message["id"]) == message
    assert len(fake_time.delays) == 3
    for attempt, delay in enumerate(fake_time.delays):
        assert 0.0 <= delay <= BACKOFF_BASE * 2**attempt
    assert client.stats.retries == 3
    assert client.stats.rate_limit_waits == 0


async def test_503_forever_raises_provider_unavailable_after_max_retries(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState, fake_time: FakeTime
) -> None:
    state.fail_next(100, endpoint="message")
    client = make_client(max_retries=3)
    with pytest.raises(ProviderUnavailableError) as raised:
        await client.get_message("1")
    assert raised.value.retriable is True
    assert state.requests["message"] == 4
    assert len(fake_time.delays) == 3


async def test_hanging_server_times_out_into_a_retriable_error(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    state.hang_seconds = 5.0
    client = make_client(timeout=0.1, max_retries=1)
    with pytest.raises(ProviderUnavailableError) as raised:
        await client.get_message("1")
    assert raised.value.retriable is True
    assert isinstance(raised.value.__cause__, TimeoutError)
    assert client.stats.retries == 1


async def test_connection_refused_is_retriable(http: aiohttp.ClientSession) -> None:
    # Bound but not listening, and held for the test: connections are refused, and no other
    # process can take the port meanwhile (a closed probe's port was once reused in CI).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        fake = FakeTime()
        client = HootsuiteClient(
            http,
            f"http://127.0.0.1:{port}",
            HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET),
            max_retries=1,
            clock=fake.clock,
            sleep=fake.sleep,
        )
        with pytest.raises(ProviderUnavailableError):
            await client.get_message("1")
    # Counted by the client, not by sleeps: the rate limiter may sleep too when the jittered
    # backoff is shorter than its spacing (a flake in CI: a 4 ms limiter wait after 45 ms).
    assert (client.stats.requests, client.stats.retries) == (2, 1)


async def test_rejected_request_is_a_non_retriable_response_error(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    with pytest.raises(ProviderResponseError) as raised:
        await collect(make_client(), states=["ARCHIVED"])
    assert raised.value.retriable is False
    assert "HTTP 400 (codes 40000)" in str(raised.value)
    assert state.requests["messages"] == 1  # a 4xx is not retried


async def test_client_requests_stay_within_the_rate_limit(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    fake = FakeTime(follow_real=False)
    message = state.add_message(T0)
    client = make_client(max_requests_per_second=4.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(9):
        await client.get_message(message["id"])
    # Ten requests (one for the token) at four a second take at least 9/4 s of waiting.
    assert sum(fake.delays) == pytest.approx(9 / 4)


async def test_token_bucket_keeps_any_one_second_window_within_the_rate() -> None:
    fake = FakeTime(start=0.0, follow_real=False)
    bucket = TokenBucket(5.0, clock=fake.clock, sleep=fake.sleep)
    granted = []
    for _ in range(23):
        await bucket.acquire()
        granted.append(fake.clock())
    for moment in granted:
        assert sum(moment <= other < moment + 1.0 - 1e-9 for other in granted) <= 5
    assert granted[-1] == pytest.approx(22 / 5)


async def test_token_bucket_queues_concurrent_callers() -> None:
    fake = FakeTime(start=0.0, follow_real=False)
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)  # the clock stays put: all callers arrive at once

    bucket = TokenBucket(10.0, clock=fake.clock, sleep=record)
    waited = await asyncio.gather(*(bucket.acquire() for _ in range(4)))
    assert waited == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert delays == pytest.approx([0.1, 0.2, 0.3])


async def test_a_rotated_refresh_token_is_kept_before_its_access_token_is_used(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    refresh = state.issue_tokens(CLIENT_ID)["refresh_token"]
    message = state.add_message(T0)
    kept: list[tuple[str, int]] = []

    async def keep(rotated: str) -> None:
        kept.append((rotated, state.requests["message"]))

    credentials = HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET, refresh)
    client = make_client(credentials=credentials, on_rotated=keep)
    assert await client.get_message(message["id"]) == message

    assert len(kept) == 1
    rotated, requests_before = kept[0]
    assert requests_before == 0  # kept before any request carried the new access token
    assert set(state.refresh_tokens) == {rotated}  # the one the provider still accepts


async def test_an_unkept_rotation_is_never_used_and_the_next_refresh_is_kept(
    make_client: Callable[..., HootsuiteClient], state: SimulatorState
) -> None:
    refresh = state.issue_tokens(CLIENT_ID)["refresh_token"]
    message = state.add_message(T0)
    kept: list[str] = []

    async def keep(rotated: str) -> None:
        if not kept:
            kept.append("refused")
            raise KafkaUnavailableError("Kafka did not acknowledge the write")
        kept.append(rotated)

    credentials = HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET, refresh)
    client = make_client(credentials=credentials, on_rotated=keep)
    with pytest.raises(KafkaUnavailableError):
        await client.get_message(message["id"])
    assert state.requests["message"] == 0
    assert await client.get_message(message["id"]) == message  # refreshed with the rotated one

    assert state.requests["token"] == 2
    assert kept[1:] == list(state.refresh_tokens)
