"""Single-use refresh tokens across poller restarts: the newest one is on Kafka, never lost.

Real broker and `pipeline poller` processes; the Hootsuite simulator invalidates every refresh
token once used, as OAuth 2 lets a provider do on rotation. Before `pollers.credentials`, the
first restart refreshed with the configured (spent) token and the instance stayed `auth_failed`.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from pipeline.simulators.hootsuite import SimulatorState
from tests.integration.conftest import Stack
from tests.integration.test_poller import (
    CLIENT_ID,
    CLIENT_SECRET,
    Pollers,
    eventually,
    pollers,
    provider,
    serve,
    soon,
)
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration
__all__ = ["pollers", "provider"]  # fixtures


def refusals(statuses: list[int]) -> Middleware:
    """Records the status of every token endpoint answer."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.match_info.route.name == "token":
            statuses.append(response.status)
        return response

    return record


async def polled(stack: Stack, instance_id: str, message_id: str) -> None:
    """Wait until a snapshot of `message_id` is on `polls.raw`."""

    def seen(values: list[Any]) -> bool:
        return any(v["instance_id"] == instance_id and v["item_id"] == message_id for v in values)

    await read_topic(stack.settings.kafka_bootstrap, stack.topic("polls.raw"), until=seen)


async def test_single_use_refresh_tokens_survive_sigterm_and_sigkill_restarts(
    stack: Stack, provider: SimulatorState, pollers: Pollers
) -> None:
    # Renewed 60 s before expiry: a refresh (and a rotation) about every 2 s while it runs.
    provider.expires_in = 62
    configured = provider.issue_tokens(CLIENT_ID)["refresh_token"]
    statuses: list[int] = []
    logs: list[Path] = []
    instance_id = f"hs-{uuid.uuid4().hex[:10]}"

    async def restart(sig: int | None, expected: int = 0) -> None:
        if sig is not None:
            assert await pollers.stop(sig) == expected
        logs.append((await pollers.start()).log_path)

    def refreshed(times: int) -> Callable[[], bool]:
        target = len(statuses) + times
        return lambda: len(statuses) >= target

    async with serve(provider, refusals(statuses)) as url:
        body = {
            "provider": "hootsuite",
            "id": instance_id,
            "polling": {"enabled": True, "interval_seconds": 1, "api_base_url": url},
            "credentials": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": configured,
            },
        }
        status, shown = await stack.admin("POST", "/v1/instances", body)
        assert status == 201, shown
        try:
            await restart(None)
            await polled(stack, instance_id, provider.add_message(soon())["id"])
            await eventually(refreshed(2), "two more refreshes")
            await restart(signal.SIGTERM)
            await polled(stack, instance_id, provider.add_message(soon())["id"])
            await eventually(refreshed(2), "two more refreshes")
            await restart(signal.SIGKILL, -signal.SIGKILL)
            await polled(stack, instance_id, provider.add_message(soon())["id"])
            await eventually(refreshed(1), "a refresh after the kill")
            status, shown = await stack.admin("GET", f"/v1/instances/{instance_id}")
        finally:
            await stack.admin("DELETE", f"/v1/instances/{instance_id}")

    assert len(statuses) >= 7
    assert set(statuses) == {200}  # no refresh was ever refused
    assert shown["health"]["status"] == "healthy"
    health = await read_topic(stack.settings.kafka_bootstrap, stack.topic("instances.health"))
    reasons = {v["reason"] for v in health if v and v["instance_id"] == instance_id}
    assert "auth_failed" not in reasons
    stored = await read_topic(stack.settings.kafka_bootstrap, stack.topic("pollers.credentials"))
    tokens = [v["refresh_token"] for v in stored if v and v["instance_id"] == instance_id]
    assert len(tokens) >= len(statuses) - 1  # every rotation was written (the last maybe after)
    assert configured not in tokens
    text = "".join(path.read_text() for path in logs)
    assert not any(token in text for token in [configured, *tokens])
