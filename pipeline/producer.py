"""A durable Kafka producer for the HTTP processes: `send` returns only after the broker acked.

acks=all with idempotence, so an acknowledged write is on every in-sync replica and a retried batch
is never written twice. Each `send` has one deadline, `ack_timeout`, for everything: waiting for a
connection, queueing, the ack. Past it, or on a Kafka error, it raises the retriable
`KafkaUnavailableError` (the ingress answers 503).

A failed write also retires the aiokafka producer it went through. Left alive during an outage,
aiokafka retries metadata without a pause (tens of thousands of attempts in ten seconds, stealing
the event loop from the requests it should answer), and after the broker's return its idempotent
sequence is broken by the batches that expired meanwhile (`OutOfOrderSequenceNumber`), which ends
its sender for good. Instead, a new producer (a new producer id) is started as soon as the broker's
port accepts connections again, checked every `RECONNECT_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from pipeline import aiokafka_fixes, metrics
from pipeline.contract.headers import RecordHeaders
from pipeline.errors import KafkaUnavailableError
from pipeline.health import port_open
from pipeline.partitioner import partition_for

log = logging.getLogger(__name__)
RECONNECT_INTERVAL_SECONDS = 0.2
# Many concurrent single-record sends: aiokafka keeps one produce request in flight per broker and
# puts what arrives meanwhile in one batch per partition; a batch bigger than the 16 KiB default
# carries a whole round trip's records (at 4,000/s of ~1 KiB envelopes), so under load batches
# fill without a linger. A 5 ms linger used 5-10 % less ingress CPU per request at 250 and 1,000
# webhooks/s (BENCHMARKS.md, "The ingress alone"), but every answer, and every event end to end,
# waited for it: at 100 webhooks/s 1 ms answers 3.5-4 ms sooner (p50 5.5-6.8 ms against 9.5-10.6,
# three alternating pairs, `bench/results/20261207T184440Z-ingress-linger-paired.txt`) for about
# 4 % more ingress CPU per request; end-to-end p50 at 100/s is a target (issue 25), ingress CPU is
# not the pipeline's limit.
LINGER_MS = 1
MAX_BATCH_BYTES = 256 * 1024


class DurableProducer:
    def __init__(
        self,
        bootstrap: str,
        ack_timeout: float = 5.0,
        *,
        process: str,
        headers: RecordHeaders,
    ) -> None:
        aiokafka_fixes.install()  # a broken connection under uvloop, a metadata task that ended
        self._bootstrap = bootstrap
        self._process = process
        self._headers = headers  # each record carries its topic's (`pipeline.contract.headers`)
        self._ack_timeout = ack_timeout
        self._producer: AIOKafkaProducer | None = None
        self._connected = asyncio.Event()
        self._reconnecting: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def start(self) -> bool:
        """Connect now if Kafka answers (False otherwise); it keeps trying in the background."""
        if self._producer is None and not await self._connect():
            self._reconnect_soon()
        return self._producer is not None

    def _new(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(self._ack_timeout * 1000),
            linger_ms=LINGER_MS,
            max_batch_size=MAX_BATCH_BYTES,
            partitioner=partition_for,
        )

    async def _connect(self) -> bool:
        producer = self._new()
        try:
            await asyncio.wait_for(producer.start(), self._ack_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            await _quietly_stop(producer)
            log.warning("Kafka producer cannot connect to %s yet: %s", self._bootstrap, exc)
            return False
        if self._stopped:
            await _quietly_stop(producer)
            return False
        self._producer = producer
        self._connected.set()
        log.info("Kafka producer connected to %s", self._bootstrap)
        return True

    def _reconnect_soon(self) -> None:
        if self._stopped or (self._reconnecting and not self._reconnecting.done()):
            return
        self._reconnecting = asyncio.create_task(self._reconnect(), name="producer-reconnect")

    async def _reconnect(self) -> None:
        while not self._stopped and self._producer is None:
            # A plain TCP connect first: aiokafka would log (and spin on) every refusal.
            if await port_open(self._bootstrap, self._ack_timeout) and await self._connect():
                return
            await asyncio.sleep(RECONNECT_INTERVAL_SECONDS)

    def _retire(self, producer: AIOKafkaProducer, reason: BaseException) -> None:
        """Stop using `producer` (in the background) and connect a new one."""
        if self._producer is not producer:
            return  # another send retired it already
        log.warning("Kafka producer to %s retired after %r; reconnecting", self._bootstrap, reason)
        self._producer = None
        self._connected.clear()
        task = asyncio.create_task(_abandon(producer, 2 * self._ack_timeout), name="retire")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        self._reconnect_soon()

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> Any:
        """Write one record and wait for the broker's ack; `KafkaUnavailableError` otherwise."""
        headers = self._headers.of(topic, value)
        producer: AIOKafkaProducer | None = self._producer
        waited = producer is None
        try:
            async with asyncio.timeout(self._ack_timeout):
                if waited:
                    self._reconnect_soon()
                while (producer := self._producer) is None:  # retired again: wait once more
                    await self._connected.wait()
                ack = await producer.send(topic, value=value, key=key, headers=headers)
                return await ack
        except MessageSizeTooLargeError as exc:  # this record's fault, not the connection's
            metrics.PRODUCER_ERRORS.labels(self._process).inc()
            raise KafkaUnavailableError(f"Kafka refused the record: {exc!r}") from exc
        except (KafkaError, TimeoutError) as exc:
            metrics.PRODUCER_ERRORS.labels(self._process).inc()
            # A deadline spent mostly waiting for the connection says nothing against it.
            if producer is not None and not (waited and isinstance(exc, TimeoutError)):
                self._retire(producer, exc)
            raise KafkaUnavailableError(f"Kafka did not acknowledge the write: {exc!r}") from exc

    async def stop(self) -> None:
        self._stopped = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._retiring:
            await asyncio.gather(*self._retiring)


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(KafkaError, OSError):
        await producer.stop()


async def _abandon(producer: AIOKafkaProducer, within: float) -> None:
    """Fail the batches not sent yet (their sends answer 503 now, never 202), then stop it.

    `stop()` alone would first wait for each of them to expire, its metadata loop spinning
    meanwhile. The accumulator is private to aiokafka: batches are failed as its sender does.
    """
    error = KafkaUnavailableError("producer retired")
    accumulator = producer._message_accumulator
    for batch in list(itertools.chain(*accumulator._batches.values())):
        # A batch queued again after a failed request keeps the done-callback that takes it off
        # the pending set: it must be there (of a producer about to be dropped, the set is inert).
        accumulator._pending_batches.add(batch)
        batch.failure(error)
        for future in (batch.future, batch._drain_waiter):  # nobody awaits them any more
            if future.done() and not future.cancelled():
                future.exception()
    try:
        await asyncio.wait_for(producer.stop(), within)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("retired Kafka producer did not stop cleanly: %r", exc)
