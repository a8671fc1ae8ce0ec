"""Poller unit-test helpers: the Hootsuite simulator over real HTTP, and Kafka as a list."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler, Middleware
from jsonschema import Draft202012Validator

from pipeline.config.instances import Instance
from pipeline.errors import KafkaUnavailableError
from pipeline.pollers.hootsuite_api import HootsuiteClient, HootsuiteCredentials
from pipeline.pollers.state import PollerStateView
from pipeline.pollers.writer import PollerTopics
from pipeline.settings import REPO_ROOT
from pipeline.simulators.hootsuite import SimulatorState, create_simulator

CLIENT_ID, CLIENT_SECRET = "unit-poller-app", "unit-poller-secret"
INSTANCE_ID = "inst_unit"
TOPICS = PollerTopics(
    polls_raw="polls.raw",
    pollers_state="pollers.state",
    instances_health="h",
    pollers_credentials="pollers.credentials",
)
SCHEMAS = REPO_ROOT / "topics" / "schemas"


def assert_valid(schema_file: str, value: Any) -> None:
    """`value` satisfies topics/schemas/`schema_file`, formats included."""
    schema = json.loads((SCHEMAS / schema_file).read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(value)


@dataclass(frozen=True)
class Written:
    topic: str
    key: str
    value: Any  # decoded JSON, or None for a tombstone


@dataclass(frozen=True)
class Ack:
    offset: int


class FakeWriter:
    """Kafka as a list: every acked record in order; can refuse writes to one topic."""

    def __init__(self) -> None:
        self.records: list[Written] = []
        self.refuse_topic: str | None = None
        self._offsets = itertools.count()

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> Ack:
        await asyncio.sleep(0)
        if topic == self.refuse_topic:
            raise KafkaUnavailableError("refused by the test")
        decoded = None if value is None else orjson.loads(value)
        self.records.append(Written(topic, (key or b"").decode(), decoded))
        return Ack(next(self._offsets))

    def on(self, topic: str) -> list[Written]:
        return [record for record in self.records if record.topic == topic]

    def clear(self) -> None:
        self.records.clear()


def make_instance(
    instance_id: str = INSTANCE_ID,
    *,
    include_raw: bool = True,
    credentials: dict[str, str | None] | None = None,
    **polling: Any,
) -> Instance:
    now = "2026-03-02T09:00:00.000Z"
    return Instance(
        id=instance_id,
        provider="hootsuite",
        name="unit",
        enabled=True,
        created=now,
        modified=now,
        include_raw=include_raw,
        polling={"enabled": True, **polling},
        credentials=credentials or {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
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


def utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def provider() -> SimulatorState:
    return SimulatorState({CLIENT_ID: CLIENT_SECRET})


@pytest.fixture
async def provider_url(provider: SimulatorState) -> AsyncIterator[str]:
    async with TestServer(create_simulator(provider), host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def client_of(app: web.Application) -> AsyncIterator[HootsuiteClient]:
    """`app` served on 127.0.0.1 and a client for it that skips back-off and 429 waits."""
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        yield HootsuiteClient(
            session,
            str(server.make_url("")),
            HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET),
            max_requests_per_second=1e6,
            sleep=_no_wait,
        )


@pytest.fixture
async def hootsuite(provider: SimulatorState) -> AsyncIterator[HootsuiteClient]:
    async with client_of(create_simulator(provider)) as client:
        yield client


@pytest.fixture
def writer() -> FakeWriter:
    return FakeWriter()


@pytest.fixture
def poller_state() -> PollerStateView:
    """The state view, never started: cycles fill it through read-your-writes alone."""
    return PollerStateView("127.0.0.1:1", TOPICS.pollers_state)
