"""DurableProducer over a fake aiokafka producer: one deadline per send, retire and reconnect."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pipeline import producer as producer_module
from pipeline.contract.headers import RecordHeaders
from pipeline.errors import KafkaUnavailableError
from pipeline.partitioner import partition_for
from pipeline.producer import DurableProducer

ACK_TIMEOUT = 0.3
HEADERS = RecordHeaders({"t": [("content-type", b"application/json")]})


class FakeAccumulator:
    _batches: dict[Any, Any] = {}  # noqa: RUF012 - read-only stand-in


class FakeKafka:
    """Stands in for AIOKafkaProducer: acks at once while `Broker.up`, never while it is down."""

    made: list[FakeKafka] = []  # noqa: RUF012 - every instance, in order
    broker_up = True

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.stopped = False
        self.sent: list[bytes | None] = []
        self.headers: list[list[tuple[str, bytes]] | None] = []
        self._message_accumulator = FakeAccumulator()
        FakeKafka.made.append(self)

    async def start(self) -> None:
        if not FakeKafka.broker_up:
            raise OSError("connection refused")

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if FakeKafka.broker_up:
            self.sent.append(value)
            self.headers.append(headers)
            ack.set_result(("acked", topic, len(self.sent)))
        return ack  # while the broker is down the ack never comes

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture(autouse=True)
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeKafka.made = []
    FakeKafka.broker_up = True

    async def port_open(bootstrap: str, timeout: float) -> bool:
        return FakeKafka.broker_up

    monkeypatch.setattr(producer_module, "AIOKafkaProducer", FakeKafka)
    monkeypatch.setattr(producer_module, "port_open", port_open)
    monkeypatch.setattr(producer_module, "RECONNECT_INTERVAL_SECONDS", 0.01)


async def _until(condition: Any, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_send_returns_the_ack_and_configures_for_many_single_sends() -> None:
    durable = DurableProducer("kafka:9092", ACK_TIMEOUT, process="unit", headers=HEADERS)
    assert await durable.start()
    assert await durable.send("t", b"k", b"v") == ("acked", "t", 1)
    [kafka] = FakeKafka.made
    assert kafka.config["acks"] == "all"
    assert kafka.config["enable_idempotence"] is True
    assert kafka.config["linger_ms"] > 0
    await durable.stop()
    assert kafka.stopped


async def test_a_missing_ack_is_503_within_the_deadline_and_a_new_producer_takes_over() -> None:
    durable = DurableProducer("kafka:9092", ACK_TIMEOUT, process="unit", headers=HEADERS)
    await durable.start()
    FakeKafka.broker_up = False
    began = time.monotonic()
    with pytest.raises(KafkaUnavailableError):
        await durable.send("t", b"k", b"lost")
    assert ACK_TIMEOUT <= time.monotonic() - began < ACK_TIMEOUT + 0.2
    first = FakeKafka.made[0]
    await _until(lambda: first.stopped)  # retired: its metadata loop would spin meanwhile
    began = time.monotonic()
    with pytest.raises(KafkaUnavailableError):  # no producer while the port is closed
        await durable.send("t", b"k", b"refused")
    assert time.monotonic() - began < ACK_TIMEOUT + 0.2
    FakeKafka.broker_up = True
    await _until(lambda: len(FakeKafka.made) >= 2)
    assert await durable.send("t", b"k", b"back") == ("acked", "t", 1)
    assert FakeKafka.made[-1].sent == [b"back"]
    await durable.stop()


async def test_a_send_waiting_for_the_connection_is_accepted_once_it_is_there() -> None:
    FakeKafka.broker_up = False
    durable = DurableProducer("kafka:9092", 2.0, process="unit", headers=HEADERS)
    assert not await durable.start()
    waiting = asyncio.create_task(durable.send("t", b"k", b"early"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    FakeKafka.broker_up = True
    assert await waiting == ("acked", "t", 1)
    await durable.stop()


async def test_a_deadline_spent_waiting_for_the_connection_does_not_retire_it() -> None:
    FakeKafka.broker_up = False
    durable = DurableProducer("kafka:9092", ACK_TIMEOUT, process="unit", headers=HEADERS)
    await durable.start()
    with pytest.raises(KafkaUnavailableError):
        await durable.send("t", b"k", b"v")
    FakeKafka.broker_up = True
    await _until(lambda: bool(FakeKafka.made) and not FakeKafka.made[-1].stopped)
    connected = FakeKafka.made[-1]
    await durable.send("t", b"k", b"v")
    assert not connected.stopped
    await durable.stop()


async def test_a_record_carries_its_topics_headers_and_a_tombstone_none() -> None:
    durable = DurableProducer("kafka:9092", ACK_TIMEOUT, process="unit", headers=HEADERS)
    await durable.start()
    await durable.send("t", b"k", b"{}")
    await durable.send("t", b"k", None)
    assert FakeKafka.made[0].headers == [[("content-type", b"application/json")], None]
    await durable.stop()


async def test_keys_are_placed_by_the_pipelines_partitioner() -> None:
    """Kafka's default placement (`pipeline.partitioner`, tested there), as the worker's."""
    durable = DurableProducer("kafka:9092", ACK_TIMEOUT, process="unit", headers=HEADERS)
    await durable.start()
    assert FakeKafka.made[0].config["partitioner"] is partition_for
    await durable.stop()
