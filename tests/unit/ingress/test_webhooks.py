"""The webhook route of the ingress app, over a fake producer: no broker, real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from pipeline.config.instances import Instance, decode_instance, instance_key
from pipeline.config.view import CompactedView
from pipeline.errors import KafkaUnavailableError
from pipeline.events.cloudevent import rfc3339
from pipeline.ingress import webhooks
from pipeline.ingress.context import Ingress
from pipeline.ingress.readmodels.attempt_log import AttemptLog
from pipeline.ingress.server import build_app
from pipeline.settings import load_settings
from tests.support.payloads import hootsuite_element

TOKEN = "unit-admin-token"


class FakeProducer:
    """Records what is written; `fail` makes every write raise as an unreachable Kafka does."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []
        self.fail = False

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> Any:
        if self.fail:
            raise KafkaUnavailableError("Kafka did not acknowledge the write")
        self.records.append((topic, key, value))
        return None


class FakeProbe:
    async def ready(self) -> bool:
        return True


def _view(decode: Any) -> CompactedView[Any]:
    view: CompactedView[Any] = CompactedView("127.0.0.1:1", "unused", decode)
    view.caught_up.set()
    return view


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def ingress(producer: FakeProducer) -> Ingress:
    settings = load_settings(topic_prefix="unit.", admin_token=TOKEN, max_body_bytes=2048)
    instances = _view(decode_instance)
    hootsuite = Instance(
        id="hoot1",
        provider="hootsuite",
        name="h",
        enabled=True,
        created="2026-01-01",
        modified="2026-01-01",
    )
    instances.apply(hootsuite.id, hootsuite, 0)
    return Ingress(
        settings=settings,
        producer=producer,  # type: ignore[arg-type]  # the fake has the one method used
        instances=instances,
        health=_view(orjson.loads),
        subscriptions=_view(orjson.loads),
        attempt_log=AttemptLog("127.0.0.1:1", "unused"),
        probe=FakeProbe(),  # type: ignore[arg-type]
    )


@pytest.fixture
async def base_url(ingress: Ingress) -> AsyncIterator[str]:
    async with TestServer(build_app(ingress), host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


def _requests(provider: str, status: int) -> float:
    labels = {"provider": provider, "status": str(status)}
    return REGISTRY.get_sample_value("pipeline_ingress_requests_total", labels) or 0.0


async def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        text = await r.text()
        return r.status, (r.headers, orjson.loads(text) if text else None)


HOOK = "/v1/webhooks/hootsuite/" + instance_key("hoot1")


async def test_202_after_the_write_with_the_envelope_on_webhooks_raw(
    base_url: str, producer: FakeProducer
) -> None:
    before = _requests("hootsuite", 202)
    body = orjson.dumps([hootsuite_element("7", "SENT")])
    status, (headers, answer) = await _post(base_url + HOOK, body, {"User-Agent": "unit"})
    assert (status, answer) == (202, None)  # Hootsuite asks for an empty 2xx body
    [(topic, key, value)] = producer.records
    assert (topic, key) == ("unit.webhooks.raw", b"hoot1")
    assert value is not None
    envelope = orjson.loads(value)
    assert envelope["request_id"] == headers["X-Request-Id"]
    assert (envelope["provider"], envelope["instance_id"]) == ("hootsuite", "hoot1")
    assert envelope["headers"]["user-agent"] == "unit"
    assert base64.b64decode(envelope["body"]) == body
    received = datetime.fromisoformat(envelope["received_at"].replace("Z", "+00:00"))
    assert abs(received.timestamp() - time.time()) < 5
    assert _requests("hootsuite", 202) == before + 1


async def test_503_when_kafka_refuses_the_write(base_url: str, producer: FakeProducer) -> None:
    producer.fail = True
    before = _requests("hootsuite", 503)
    status, (_, answer) = await _post(
        base_url + HOOK, orjson.dumps([hootsuite_element("8", "SENT")])
    )
    assert status == 503
    assert answer["error"]["code"] == "kafka_unavailable"
    assert _requests("hootsuite", 503) == before + 1


async def test_an_unknown_provider_is_404_and_counted_as_unknown(base_url: str) -> None:
    before = _requests("unknown", 404)
    status, (_, answer) = await _post(base_url + "/v1/webhooks/myspace/abc", b"{}")
    assert (status, answer["error"]["code"]) == (404, "unknown_provider")
    assert _requests("unknown", 404) == before + 1


async def test_webhooks_skip_the_admin_token_that_the_admin_api_requires(base_url: str) -> None:
    body = orjson.dumps([hootsuite_element("9", "SENT")])
    assert (await _post(base_url + HOOK, body))[0] == 202  # no Authorization header
    async with aiohttp.ClientSession() as session:
        async with session.get(base_url + "/v1/instances") as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthorized"
        authorized = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(base_url + "/v1/instances", headers=authorized) as response:
            assert response.status == 200
            assert [shown["id"] for shown in (await response.json())["data"]] == ["hoot1"]
        async with session.get(base_url + "/nowhere") as response:
            assert response.status == 404  # aiohttp's own errors keep the JSON shape
            assert (await response.json())["error"]["code"] == "not_found"


async def test_a_chunked_body_over_the_limit_is_413(base_url: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 1024

    status, (_, answer) = await _post(base_url + HOOK, chunks())
    assert (status, answer["error"]["code"]) == (413, "body_too_large")


def test_received_at_is_rfc3339_as_the_rest_of_the_pipeline_writes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moments = (1_764_000_000.0, 1_764_000_000.9996, 1_764_000_059.9999996, 1_764_000_060.001)
    for moment in moments:
        monkeypatch.setattr(webhooks.time, "time", lambda moment=moment: moment)
        expected = rfc3339(datetime.fromtimestamp(moment, UTC))
        assert webhooks.received_at() == expected
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", expected)


async def test_a_kept_header_that_is_not_utf8_is_400_and_nothing_is_written(
    base_url: str, producer: FakeProducer
) -> None:
    """aiohttp passes undecodable header bytes on as lone surrogates, which orjson refuses: this
    was a 500 from the envelope's encoding."""
    host, port = base_url.removeprefix("http://").split(":")
    body = orjson.dumps([hootsuite_element("9", "SENT")])
    request = (
        f"POST {HOOK} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n".encode()
        + b"User-Agent: caf\xc3 \xff\xfe\r\nConnection: close\r\n\r\n"
        + body
    )
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        answer = await reader.read()
    finally:
        writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert orjson.loads(payload)["error"]["code"] == "invalid_header"
    assert producer.records == []


async def test_an_instance_this_process_cannot_read_is_503_for_the_sender_to_retry(
    base_url: str, ingress: Ingress, producer: FakeProducer
) -> None:
    """Not 404 (which tells a sender the URL is gone): the instance exists, its record cannot be
    read here (issue 23); nothing is written."""
    ingress.instances._consume(b"hoot1", b'{"id": "hoot1"}', 5)
    status, (_, answer) = await _post(
        base_url + HOOK, orjson.dumps([hootsuite_element("9", "SENT")])
    )
    assert status == 503
    assert answer["error"]["code"] == "config_unreadable"
    assert producer.records == []
