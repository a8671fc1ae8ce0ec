"""DurableProducer, over a stand-in for aiokafka's producer: a record Kafka refuses is the
record's fault (the connection stays), every failure is counted, `stop` ends the reconnecting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from prometheus_client import REGISTRY

from pipeline import producer as producer_module
from pipeline.contract.headers import RecordHeaders
from pipeline.errors import KafkaUnavailableError
from pipeline.producer import DurableProducer

HEADERS = RecordHeaders({"t": [("content-type", b"application/json")]})


class Accumulator:
    def __init__(self) -> None:
        self._batches: dict[Any, Any] = {}
        self._pending_batches: set[Any] = set()


class Kafka:
    """aiokafka's producer: `error` is raised by the next sends; `up` says whether it connects."""

    made: list[Kafka] = []  # noqa: RUF012
    up = True
    error: Exception | None = None

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.stopped = False
        self._message_accumulator = Accumulator()
        Kafka.made.append(self)

    async def start(self) -> None:
        if not Kafka.up:
            raise KafkaConnectionError("refused")

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[Any] | None
    ) -> Any:
        if Kafka.error is not None:
            raise Kafka.error
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack.set_result((topic, key, value))
        return ack

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture(autouse=True)
def kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    Kafka.made, Kafka.up, Kafka.error = [], True, None
    probes: list[str] = []

    async def port_open(bootstrap: str, timeout: float) -> bool:
        probes.append(bootstrap)
        return Kafka.up

    monkeypatch.setattr(producer_module, "AIOKafkaProducer", Kafka)
    monkeypatch.setattr(producer_module, "port_open", port_open)
    monkeypatch.setattr(producer_module, "RECONNECT_INTERVAL_SECONDS", 0.01)


def _errors(process: str) -> float:
    return (
        REGISTRY.get_sample_value("pipeline_kafka_producer_errors_total", {"process": process})
        or 0.0
    )


async def test_a_record_too_large_is_refused_and_the_producer_is_kept() -> None:
    durable = DurableProducer("kafka:9092", 1.0, process="unit-refusals", headers=HEADERS)
    await durable.start()
    before = _errors("unit-refusals")
    Kafka.error = MessageSizeTooLargeError()
    with pytest.raises(KafkaUnavailableError, match="Kafka refused the record"):
        await durable.send("t", b"k", b"x" * 10)
    Kafka.error = None
    assert await durable.send("t", b"k", b"small") == ("t", b"k", b"small")
    [kafka] = Kafka.made  # not retired, no second producer
    assert not kafka.stopped
    assert _errors("unit-refusals") == before + 1
    await durable.stop()
    assert kafka.stopped


async def test_a_kafka_error_retires_the_producer_and_a_new_one_takes_over() -> None:
    durable = DurableProducer("kafka:9092", 1.0, process="unit-refusals", headers=HEADERS)
    await durable.start()
    before = _errors("unit-refusals")
    Kafka.error = KafkaConnectionError("gone")
    with pytest.raises(KafkaUnavailableError, match="did not acknowledge"):
        await durable.send("t", b"k", b"v")
    Kafka.error = None
    assert await durable.send("t", b"k", b"v") == ("t", b"k", b"v")
    assert len(Kafka.made) == 2
    assert Kafka.made[0].stopped
    assert not Kafka.made[1].stopped
    assert _errors("unit-refusals") == before + 1
    await durable.stop()


async def test_start_twice_connects_once() -> None:
    durable = DurableProducer("kafka:9092", 1.0, process="unit-refusals", headers=HEADERS)
    assert await durable.start()
    assert await durable.start()
    assert len(Kafka.made) == 1
    await durable.stop()


async def test_stop_ends_the_reconnecting_and_connects_nothing_afterwards() -> None:
    Kafka.up = False
    durable = DurableProducer("kafka:9092", 0.2, process="unit-refusals", headers=HEADERS)
    assert not await durable.start()
    await durable.stop()
    made = len(Kafka.made)
    Kafka.up = True
    await asyncio.sleep(0.05)  # several reconnect intervals: none may run after stop
    assert len(Kafka.made) == made
    assert all(kafka.stopped for kafka in Kafka.made)
    with pytest.raises(KafkaUnavailableError):
        await durable.send("t", b"k", b"v")


async def test_the_producer_is_configured_for_the_ack_timeout() -> None:
    durable = DurableProducer("kafka:9092", 2.5, process="unit-refusals", headers=HEADERS)
    await durable.start()
    [kafka] = Kafka.made
    assert kafka.config["bootstrap_servers"] == "kafka:9092"
    assert kafka.config["request_timeout_ms"] == 2500
    assert kafka.config["max_batch_size"] == producer_module.MAX_BATCH_BYTES
    await durable.stop()
