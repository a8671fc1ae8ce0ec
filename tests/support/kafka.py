"""Reading and writing the real broker from tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from pipeline.health import partitions_of


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Any]], bool] | None = None,
    timeout: float = 30.0,
    settle: float = 0.0,
) -> list[Any]:
    """Every record's decoded value from the beginning, until `until(values)` holds (or timeout).

    With `settle`, keep reading that many seconds after `until` holds, to catch late extras
    (used where a test asserts that nothing more arrives).
    """
    return await _read(bootstrap, topic, _value, until, timeout=timeout, settle=settle)


async def read_records(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool] | None = None,
    timeout: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record as written (key, value, headers) from the beginning, until `until(records)`."""
    return await _read(bootstrap, topic, lambda record: record, until, timeout=timeout)


def _value(record: ConsumerRecord[bytes, bytes]) -> Any:
    return orjson.loads(record.value) if record.value else None


async def _read(
    bootstrap: str,
    topic: str,
    decode: Callable[[ConsumerRecord[bytes, bytes]], Any],
    until: Callable[[list[Any]], bool] | None,
    *,
    timeout: float,
    settle: float = 0.0,
) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    values: list[Any] = []
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        settled_at: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                values.extend(decode(record) for record in records)
            if until is None or until(values):
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at >= settle:
                    break
        else:
            if until is not None and not until(values):
                raise TimeoutError(f"{topic}: condition not met in {timeout}s; got {len(values)}")
    finally:
        await consumer.stop()
    return values


async def write(
    bootstrap: str,
    topic: str,
    key: bytes,
    value: dict[str, Any] | bytes,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """One record; a dict is written as JSON, bytes as they are."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        await producer.send_and_wait(topic, raw, key=key, headers=headers)
    finally:
        await producer.stop()


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
