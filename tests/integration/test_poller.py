"""`pipeline poller` against the Hootsuite simulator: state changes in → one event each out.

Real broker, real `pipeline ingress`/`worker`/`poller` processes; the simulator is served from the
test's event loop on 127.0.0.1, so blocking process calls run in threads to keep it answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from pipeline.simulators.hootsuite import SimulatorState, create_simulator
from tests.integration.conftest import Stack
from tests.support.kafka import read_topic
from tests.support.processes import Process, free_port, pipeline_env

pytestmark = pytest.mark.integration

CLIENT_ID, CLIENT_SECRET = "it-poller-app", "it-poller-secret-value"
SETTLE = 3.0  # three more polls at a 1 s interval: long enough for an extra event to show


@contextlib.asynccontextmanager
async def serve(state: SimulatorState, *middlewares: Middleware) -> AsyncIterator[str]:
    """The simulator on a free port of 127.0.0.1, with `middlewares` in front of it."""
    app = create_simulator(state)
    for middleware in reversed(middlewares):
        app.middlewares.insert(0, middleware)
    # A short shutdown: a deliberately hanging request must not hold up the test's end.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def provider() -> SimulatorState:
    return SimulatorState({CLIENT_ID: CLIENT_SECRET})


class Pollers:
    """The `pipeline poller` subprocess of one test; started, killed and restarted at will."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.current: Process | None = None

    async def start(self) -> Process:
        settings = self.stack.settings
        ready = f"http://127.0.0.1:{settings.poller_port}/readyz"
        process = Process("poller", pipeline_env(settings), self.stack.directory, ready)
        self.current = await asyncio.to_thread(process.start)
        return self.current

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.current is not None
        code = await asyncio.to_thread(self.current.stop, sig)
        self.current = None
        return code


@pytest.fixture
async def pollers(stack: Stack) -> AsyncIterator[Pollers]:
    running = Pollers(stack)
    yield running
    if running.current is not None:
        log = running.current.log_tail
        assert await running.stop() == 0, log()  # SIGTERM: a clean shutdown


@pytest.fixture
async def new_instance(stack: Stack) -> AsyncIterator[Callable[..., Any]]:
    """Creates Hootsuite instances through the admin API; deletes them after the test."""
    created: list[str] = []

    async def create(api_base_url: str, secret: str = CLIENT_SECRET, **polling: Any) -> str:
        instance_id = f"hs-{uuid.uuid4().hex[:10]}"
        body = {
            "provider": "hootsuite",
            "id": instance_id,
            "polling": {
                "enabled": True,
                "interval_seconds": 1,
                "api_base_url": api_base_url,
                **polling,
            },
            "credentials": {"client_id": CLIENT_ID, "client_secret": secret},
        }
        status, shown = await stack.admin("POST", "/v1/instances", body)
        assert status == 201, shown
        created.append(instance_id)
        return instance_id

    yield create
    for instance_id in created:
        await stack.admin("DELETE", f"/v1/instances/{instance_id}")


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


async def events_by_message(
    stack: Stack,
    instance_id: str,
    until: Callable[[dict[str, list[str]]], bool],
    *,
    settle: float = SETTLE,
    timeout: float = 60.0,
) -> dict[str, list[str]]:
    """The event types of each of the instance's messages (`posts/<id>`), in topic order."""
    source = f"/instances/{instance_id}"

    def grouped(values: list[Any]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for value in values:
            if value and value["source"] == source:
                found[value["subject"].removeprefix("posts/")].append(value["type"])
        return found

    values = await read_topic(
        stack.settings.kafka_bootstrap,
        stack.topic("events.normalized"),
        until=lambda values: until(grouped(values)),
        settle=settle,
        timeout=timeout,
    )
    return grouped(values)


async def snapshots(stack: Stack, instance_id: str) -> list[tuple[str, str]]:
    """(message id, state or DELETED) of every `polls.raw` record of the instance."""
    values = await read_topic(stack.settings.kafka_bootstrap, stack.topic("polls.raw"))
    return [
        (v["item_id"], v["item"]["state"] if v["item"] else "DELETED")
        for v in values
        if v["instance_id"] == instance_id
    ]


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


async def test_scheduled_then_sent_yields_each_event_once(
    stack: Stack, provider: SimulatorState, pollers: Pollers, new_instance: Callable[..., Any]
) -> None:
    message_id = provider.add_message(soon(), text="launch")["id"]
    async with serve(provider) as url:
        instance_id = await new_instance(url)
        await pollers.start()
        await events_by_message(stack, instance_id, lambda found: message_id in found, settle=0)
        listed = provider.requests["messages"]
        await eventually(lambda: provider.requests["messages"] >= listed + 2, "two more polls")
        provider.set_state(message_id, "SENT")

        found = await events_by_message(
            stack, instance_id, lambda found: "post.sent" in found.get(message_id, [])
        )

    assert found == {message_id: ["post.scheduled", "post.sent"]}


async def test_a_message_deleted_at_the_provider_yields_post_deleted(
    stack: Stack, provider: SimulatorState, pollers: Pollers, new_instance: Callable[..., Any]
) -> None:
    message_id = provider.add_message(soon())["id"]
    async with serve(provider) as url:
        instance_id = await new_instance(url)
        await pollers.start()
        await events_by_message(stack, instance_id, lambda found: message_id in found, settle=0)
        provider.delete_message(message_id)

        found = await events_by_message(
            stack, instance_id, lambda found: "post.deleted" in found.get(message_id, [])
        )

    assert found == {message_id: ["post.scheduled", "post.deleted"]}


async def test_a_killed_and_restarted_poller_neither_repeats_nor_misses(
    stack: Stack, provider: SimulatorState, pollers: Pollers, new_instance: Callable[..., Any]
) -> None:
    sent, deleted = (provider.add_message(soon())["id"] for _ in range(2))
    async with serve(provider) as url:
        instance_id = await new_instance(url)
        await pollers.start()
        await events_by_message(stack, instance_id, lambda found: len(found) == 2, settle=0)
        # Wait until a poll found nothing new: both states are recorded in pollers.state.
        listed = provider.requests["messages"]
        await eventually(lambda: provider.requests["messages"] >= listed + 2, "two more polls")
        assert await pollers.stop(signal.SIGKILL) == -signal.SIGKILL

        provider.set_state(sent, "SENT")
        provider.delete_message(deleted)
        added = provider.add_message(soon())["id"]
        await pollers.start()
        found = await events_by_message(
            stack, instance_id, lambda found: len(found) == 3 and len(found[sent]) == 2
        )

    assert found == {
        sent: ["post.scheduled", "post.sent"],
        deleted: ["post.scheduled", "post.deleted"],
        added: ["post.scheduled"],
    }
    # Not even the poller repeated itself: the worker's dedup had nothing to drop.
    reported = await snapshots(stack, instance_id)
    assert sorted(reported) == sorted(
        [
            (sent, "SCHEDULED"),
            (sent, "SENT"),
            (deleted, "SCHEDULED"),
            (deleted, "DELETED"),
            (added, "SCHEDULED"),
        ]
    )


def faults_on_next_page(state: SimulatorState) -> Middleware:
    """Once, when a listing asks for its second page: a 429, and every access token expires."""
    armed = [True]

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        if armed[0] and request.match_info.route.name == "messages" and "cursor" in request.query:
            armed[0] = False
            state.throttle_next(1, endpoint="messages")
            state.expire_tokens()
        return await handler(request)

    return inject


async def test_a_429_and_token_expiry_mid_pagination_still_complete_the_poll(
    stack: Stack, provider: SimulatorState, pollers: Pollers, new_instance: Callable[..., Any]
) -> None:
    start = soon()
    expected = {provider.add_message(start + timedelta(minutes=n))["id"] for n in range(150)}
    async with serve(provider, faults_on_next_page(provider)) as url:
        instance_id = await new_instance(url)
        await pollers.start()
        found = await events_by_message(stack, instance_id, lambda found: len(found) == 150)
        status, shown = await stack.admin("GET", f"/v1/instances/{instance_id}")

    assert set(found) == expected
    assert all(types == ["post.scheduled"] for types in found.values())
    assert provider.requests["token"] == 2  # the first token, and its renewal mid-listing
    assert status == 200
    assert shown["health"]["status"] == "healthy"


async def test_fifty_instances_keep_their_interval_while_one_hangs(
    stack: Stack, provider: SimulatorState, pollers: Pollers, new_instance: Callable[..., Any]
) -> None:
    # Each instance filters on a profile id of its own, so listings can be told apart.
    polled_at: dict[str, list[float]] = defaultdict(list)

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.route.name == "messages":
            polled_at[request.query.get("socialProfileIds", "")].append(time.monotonic())
        return await handler(request)

    hanging = SimulatorState({CLIENT_ID: CLIENT_SECRET})
    hanging.hang_seconds = 120.0
    async with serve(provider, record) as url, serve(hanging) as hanging_url:
        profiles = [str(n) for n in range(49)]
        for profile in profiles:
            await new_instance(url, social_profile_ids=[profile])
        await new_instance(hanging_url)
        await pollers.start()
        await eventually(lambda: len(polled_at) == 49, "a first poll of every instance")
        watch_from = time.monotonic()
        await eventually(
            lambda: all(len(polled_at[p]) >= 6 for p in profiles), "five more polls each", 20
        )

    assert hanging.requests["token"] >= 1  # it was tried, and is still hanging
    for profile in profiles:
        times = [t for t in polled_at[profile] if t >= watch_from - 1.0]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert max(gaps) < 2.5, (profile, gaps)


async def test_a_refused_token_shows_as_unhealthy_until_credentials_are_fixed(
    stack: Stack, provider: SimulatorState, pollers: Pollers, new_instance: Callable[..., Any]
) -> None:
    async with serve(provider) as url:
        instance_id = await new_instance(url, secret="a-revoked-secret")
        await pollers.start()

        async def health() -> dict[str, Any]:
            status, shown = await stack.admin("GET", f"/v1/instances/{instance_id}")
            assert status == 200
            return dict(shown["health"])

        shown = await health()
        deadline = time.monotonic() + 30
        while shown["status"] != "unhealthy" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            shown = await health()
        assert (shown["status"], shown["reason"]) == ("unhealthy", "auth_failed")

        patch = {"credentials": {"client_secret": CLIENT_SECRET}}
        status, _ = await stack.admin("PATCH", f"/v1/instances/{instance_id}", patch)
        assert status == 200
        deadline = time.monotonic() + 30
        while shown["status"] != "healthy" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            shown = await health()
        assert shown["status"] == "healthy"

    assert pollers.current is not None
    log = pollers.current.log_path.read_text()
    assert "a-revoked-secret" not in log
    # One line when it started failing, one when it recovered, however many polls failed between.
    assert log.count(f"instance {instance_id} is failing: auth_failed") == 1, log
    assert log.count(f"instance {instance_id} recovered after") == 1, log
    assert f"instance {instance_id} still failing" not in log  # not a minute yet
