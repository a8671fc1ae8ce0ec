"""pipeline.health: the plain TCP check before any Kafka client, and the cached readiness probe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pipeline import health
from pipeline.health import KafkaProbe, broker_ready, port_open
from tests.support.processes import free_port


@pytest.fixture
async def listening() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_port_open_is_true_when_any_listed_server_accepts(listening: int) -> None:
    closed = free_port()
    assert await port_open(f"127.0.0.1:{listening}", 1.0)
    assert await port_open(f"127.0.0.1:{closed}, 127.0.0.1:{listening}", 1.0)
    assert not await port_open(f"127.0.0.1:{closed}", 1.0)
    assert not await port_open("no-port-here", 1.0)


async def test_broker_ready_is_false_when_nothing_listens() -> None:
    assert not await broker_ready(f"127.0.0.1:{free_port()}", timeout=1.0)


async def test_the_probe_asks_once_per_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [True, False]
    asked: list[str] = []

    async def ready(bootstrap: str, timeout: float) -> bool:
        asked.append(bootstrap)
        return answers[len(asked) - 1]

    monkeypatch.setattr(health, "broker_ready", ready)
    probe = KafkaProbe("kafka:9092", ttl=3600.0)
    assert await asyncio.gather(probe.ready(), probe.ready(), probe.ready()) == [True] * 3
    assert asked == ["kafka:9092"]
    eager = KafkaProbe("kafka:9092", ttl=0.0)
    assert await eager.ready() is False  # a probe without a ttl asks every time
    assert len(asked) == 2
