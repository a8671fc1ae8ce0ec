"""The ingress app over stand-ins for Kafka (a producer that records, views fed by hand), served
on 127.0.0.1 by aiohttp's test server: the admin API's tests drive it over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pipeline.config.instances import decode_instance
from pipeline.config.subscriptions import decode_subscription
from pipeline.config.view import CompactedView
from pipeline.errors import KafkaUnavailableError
from pipeline.ingress.context import Ingress
from pipeline.ingress.readmodels.attempt_log import AttemptLog
from pipeline.ingress.server import build_app
from pipeline.settings import load_settings

TOKEN = "unit-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC_URL = "https://hooks.example.com"
Client = TestClient[web.Request, web.Application]


class RecordingProducer:
    """Acks every write at the next offset, as Kafka would; `fail` makes writes raise as an
    unreachable Kafka does."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []
        self.fail = False

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> Any:
        if self.fail:
            raise KafkaUnavailableError("Kafka did not acknowledge the write")
        self.records.append((topic, key, value))
        return SimpleNamespace(topic=topic, offset=len(self.records) - 1)

    def on(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        return [(key, value) for written, key, value in self.records if written == topic]


class ReadyProbe:
    async def ready(self) -> bool:
        return True


def loaded_view(decode: Any) -> CompactedView[Any]:
    view: CompactedView[Any] = CompactedView("127.0.0.1:1", "unused", decode)
    view.caught_up.set()
    return view


@dataclass
class Admin:
    client: Client
    ingress: Ingress
    producer: RecordingProducer

    async def call(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        async with self.client.request(method, "/v1" + path, data=data, headers=AUTH) as response:
            text = await response.text()
            return response.status, orjson.loads(text) if text else None


def make_ingress(producer: RecordingProducer, probe: Any = None) -> Ingress:
    return Ingress(
        settings=load_settings(topic_prefix="unit.", admin_token=TOKEN, public_url=PUBLIC_URL),
        producer=producer,  # type: ignore[arg-type]  # the stand-in has the one method used
        instances=loaded_view(decode_instance),
        health=loaded_view(orjson.loads),
        subscriptions=loaded_view(decode_subscription),
        attempt_log=AttemptLog("127.0.0.1:1", "unused"),
        probe=probe or ReadyProbe(),
    )


@asynccontextmanager
async def serving() -> AsyncIterator[Admin]:
    producer = RecordingProducer()
    ingress = make_ingress(producer)
    async with TestClient(TestServer(build_app(ingress), host="127.0.0.1")) as client:
        yield Admin(client, ingress, producer)
