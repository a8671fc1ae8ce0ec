"""`pipeline tail TOPIC`: print a topic's records as JSON lines, for people and shell pipelines."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.errors import PipelineError
from pipeline.health import partitions_of


def _decode(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


async def tail(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool,
    limit: int | None,
    idle_timeout: float | None,
    out: TextIO = sys.stdout,
) -> int:
    """Print records until `limit` of them or `idle_timeout` quiet seconds; returns the count."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    printed = 0
    try:
        partitions = await partitions_of(bootstrap, topic)
        if not partitions:
            raise PipelineError(f"topic {topic} does not exist (run `pipeline topics apply`)")
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        last = time.monotonic()
        while limit is None or printed < limit:
            batch = await consumer.getmany(timeout_ms=500)
            records = [record for part in batch.values() for record in part]
            if not records and idle_timeout is not None and time.monotonic() - last > idle_timeout:
                break
            for record in records[: None if limit is None else limit - printed]:
                line = {
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "timestamp": record.timestamp,
                    "key": _decode(record.key),
                    "value": _decode(record.value),
                }
                out.write(orjson.dumps(line).decode() + "\n")
                printed += 1
                last = time.monotonic()
            out.flush()
    except asyncio.CancelledError:
        pass
    finally:
        await consumer.stop()
    return printed
