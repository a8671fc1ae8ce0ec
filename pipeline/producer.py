"""A durable Kafka producer for the HTTP processes: `send` returns only after the broker acked.

acks=all with idempotence, so an acknowledged write is on every in-sync replica and a retried batch
is never written twice. Kafka being down at start or later is not fatal: `send` raises the
retriable `KafkaUnavailableError` (the ingress answers 503) and the producer reconnects by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from pipeline import metrics
from pipeline.errors import KafkaUnavailableError

log = logging.getLogger(__name__)
RESTART_INTERVAL_SECONDS = 1.0


class DurableProducer:
    def __init__(self, bootstrap: str, ack_timeout: float = 5.0, *, process: str) -> None:
        self._bootstrap = bootstrap
        self._process = process
        self._ack_timeout = ack_timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._last_attempt = float("-inf")

    async def start(self) -> bool:
        """Try to connect now; False (and a log line) when Kafka is not reachable yet."""
        async with self._lock:
            return await self._start_locked()

    async def _start_locked(self) -> bool:
        if self._producer is not None:
            return True
        self._last_attempt = time.monotonic()
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(self._ack_timeout * 1000),
        )
        try:
            await asyncio.wait_for(producer.start(), self._ack_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            log.warning("Kafka producer cannot connect to %s yet: %s", self._bootstrap, exc)
            return False
        self._producer = producer
        log.info("Kafka producer connected to %s", self._bootstrap)
        return True

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is None:
            async with self._lock:
                due = time.monotonic() - self._last_attempt >= RESTART_INTERVAL_SECONDS
                if self._producer is None and not (due and await self._start_locked()):
                    metrics.PRODUCER_ERRORS.labels(self._process).inc()
                    raise KafkaUnavailableError(f"Kafka at {self._bootstrap} is not reachable")
        assert self._producer is not None  # noqa: S101 - narrowed by _start_locked
        return self._producer

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> Any:
        """Write one record and wait for the broker's ack; `KafkaUnavailableError` otherwise."""
        producer = await self._ensure()
        try:
            return await asyncio.wait_for(
                producer.send_and_wait(topic, value=value, key=key), self._ack_timeout
            )
        except (KafkaError, TimeoutError) as exc:
            metrics.PRODUCER_ERRORS.labels(self._process).inc()
            raise KafkaUnavailableError(f"Kafka did not acknowledge the write: {exc!r}") from exc

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
