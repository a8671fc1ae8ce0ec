"""Overrides of faust-streaming 0.15.3's per-record machinery that cut its CPU, not its behaviour
(issue 25); registered with the other fixes by `pipeline.runtime.faust_fixes.PipelineApp`.

Each names the upstream behaviour it replaces and has a test in tests/unit/test_faust_fixes.py
that shows faust's own code doing it.

- The hand-over of a fetched record without four tasks. `Consumer._drain_messages` hands every
  record to the streams as `wait_first(callback(message), suspend_flow.wait())`: four tasks (the
  callback, the flow event, the service's stopped and crashed events), an `asyncio.wait` and
  three cancellations, so that a hand-over blocked on a full channel (or on the producer buffer,
  or on paused flow control) is given up when a rebalance suspends the flow. The callback almost
  never blocks. Here, while the flow runs, the callback is first stepped in place: if it
  finishes without waiting, nothing could have suspended the flow meanwhile and the result is the
  one faust's `wait_first` would give; if it waits, the rest of it goes through faust's
  `wait_first` as before, so a suspension still abandons it.
- A monitor that records nothing per record. faust's `Monitor` (the sensor every app registers)
  is called 4 to 6 times per record (message in, stream event in and out, message out, each
  send, each table read and write) to keep counters and timings that only faust's own `/stats`
  pages and its Prometheus/statsd/datadog sensors show; the pipeline uses none of them (its
  metrics are its own, `pipeline.metrics`). `QuietMonitor` keeps, of the per-record hooks, only
  the stream's inbound time per partition, which faust's slow-processing warnings read
  (`verify_event_path`), and everything faust calls per fetch, commit or rebalance.
- Table writes handed to the producer directly. faust's `Table.on_key_set` wraps each write's
  changelog record in a `FutureMessage` and puts it in the producer buffer, whose task then sends
  them one by one through the changelog topic's `publish_message` (serializers, headers, sensors,
  callbacks per record); while it holds more than 100, the conductor stops handing records to
  every agent. `DirectChangelog` encodes the record as faust's store does and queues it; one task
  per burst of writes hands the queue to the producer, and the ack of each partition's latest record
  in the burst writes the partition's persisted offset as faust's `_on_changelog_sent` does for
  every record. (Not `pipeline.runtime.kafka_batches`: aiokafka takes a partition's batch only once
  the one before it is in a request, and the deliveries waiting for `changelog_sent` hold their
  request slots meanwhile; at 500 webhooks/s on a loaded machine that cost 10 % of the deliveries
  per second.) The agents await `changelog_sent()` before they ack the records that wrote, so the
  changelog records are in the producer's hands before any commit can cover them, and faust's commit
  flushes the producer (waits for their acks) before it commits, as with faust's buffer.
- Records written straight to aiokafka. faust's `Producer.send` fires its `on_produce_message`
  signal, converts the headers and re-wraps errors for every record; the agents' `Writer` and
  `DirectChangelog` need none of it and hand each record to the aiokafka producer under faust's
  (`kafka_producer`). It is the same producer, so faust's commit still flushes it (waits for
  every record's ack) before it commits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Coroutine, Generator
from functools import partial
from time import monotonic
from typing import Any

from faust.sensors import Monitor
from faust.types import TP, CollectionT, EventT, Message, StreamT
from faust.types.transports import ProducerT
from faust.types.tuples import PendingMessage, RecordMetadata
from mode.services import WaitArgT, WaitResults
from mode.utils.times import Seconds

log = logging.getLogger(__name__)


class _Rest(Awaitable[Any]):
    """The rest of a coroutine whose first step (run by hand) yielded `pending`: awaiting this
    drives it on exactly as a task awaiting the coroutine would have."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coroutine = coroutine
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, pending = self._coroutine, self._pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # thrown in by the awaiting task: cancellation
                try:
                    pending = coroutine.throw(exc)
                except StopIteration as finished:
                    return finished.value
                continue
            try:
                pending = coroutine.send(sent)
            except StopIteration as finished:
                return finished.value


class EagerHandOver:
    """Mixin for faust's consumer (before it in the bases): `wait_first` steps a hand-over in
    place while the flow runs (faust's consumer calls `wait_first` only from `_drain_messages`)."""

    flow_active: bool
    suspend_flow: Any  # mode's Event
    should_stop: bool

    async def wait_first(self, *coros: WaitArgT, timeout: Seconds | None = None) -> WaitResults:
        waiting: Any = super()
        handed = coros[0] if coros else None
        if (
            timeout is not None
            or len(coros) != 2  # the callback and the flow's suspension
            or not inspect.iscoroutine(handed)
            or not self.flow_active
            or self.suspend_flow.is_set()
            or self.should_stop
        ):
            slow: WaitResults = await waiting.wait_first(*coros, timeout=timeout)
            return slow
        try:
            pending = handed.send(None)
        except StopIteration as finished:
            _discard(coros[1])
            return WaitResults([handed], [finished.value], False)
        except BaseException:
            _discard(coros[1])
            raise
        rest: WaitResults = await waiting.wait_first(_Rest(handed, pending), coros[1])
        return rest


def _discard(waitable: WaitArgT) -> None:
    """Close a coroutine that will not be awaited (no "never awaited" warning)."""
    if inspect.iscoroutine(waitable):
        waitable.close()


class QuietMonitor(Monitor):
    """faust's monitor without its per-record bookkeeping."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        self.stream_inbound_time[tp] = monotonic()  # read by faust's slow-processing warnings
        return None

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT[Any],
        event: EventT[Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        return None

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        return None

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        return None

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int
    ) -> Any:
        return None

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        return None

    def on_send_error(self, producer: ProducerT, exc: BaseException, state: Any) -> None:
        return None


def kafka_producer(app: Any) -> Any:
    """The aiokafka producer under faust's `app.producer` (faust starts it before any agent)."""
    return app.producer._ensure_producer()


class DirectChangelog:
    """Mixin for a faust `Table` (before it in the bases) whose changelog records skip faust's
    producer buffer."""

    app: Any
    data: Any  # the table's store
    changelog_topic_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unsent: deque[tuple[int | None, bytes, bytes | None]] = deque()
        self._sending: asyncio.Future[None] | None = None
        self._unacked: set[asyncio.Future[Any]] = set()
        super().__init__(*args, **kwargs)

    def on_key_set(self, key: Any, value: Any) -> None:
        table: Any = super()  # faust's Table
        if self.app.in_transaction:  # exactly-once keeps offsets until commit: faust's path
            table.on_key_set(key, value)
            return
        # faust's own check: inside a stream's event, partitions equal to the source topic's
        partition = table.partition_for_key(key)
        store = self.data
        self.queue_changelog(partition, store._encode_key(key), store._encode_value(value))

    def queue_changelog(self, partition: int | None, key: bytes, value: bytes | None) -> None:
        """Queue one encoded changelog record (a write the store has, or is about to have)."""
        self._unsent.append((partition, key, value))
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._send_unsent())

    async def changelog_sent(self) -> None:
        """Returns once every write so far is in the producer's hands; raises what stopped the
        sending (the writes not sent stay queued, and a later call sends them)."""
        sending = self._sending
        if (
            sending is not None
            and sending.done()
            and (sending.cancelled() or sending.exception() is not None)
        ):
            self._sending = sending = asyncio.ensure_future(self._send_unsent())
        if sending is not None:
            await asyncio.shield(sending)

    async def changelog_acked(self) -> None:
        """Returns once every write so far is acknowledged by Kafka (a restart recovers it)."""
        await self.changelog_sent()
        if self._unacked:
            await asyncio.gather(*self._unacked, return_exceptions=True)

    async def _send_unsent(self) -> None:
        unsent = self._unsent
        topic = self.changelog_topic_name
        while unsent:
            producer = kafka_producer(self.app)
            latest: dict[int | None, asyncio.Future[Any]] = {}  # per partition
            try:
                while unsent:
                    partition, key, value = unsent[0]
                    latest[partition] = await producer.send(
                        topic, value, key=key, partition=partition
                    )
                    unsent.popleft()  # only once the producer has it: a failed send is retried
            finally:  # what the producer has, even if a later send failed
                # A partition's records are acknowledged in order, so its latest ack stands for
                # the burst's: one callback per partition, not per record.
                for ack in latest.values():
                    self._unacked.add(ack)
                    ack.add_done_callback(self._unacked.discard)
                    ack.add_done_callback(partial(self._persisted, topic))

    def _persisted(self, topic: str, ack: asyncio.Future[Any]) -> None:
        if ack.cancelled() or ack.exception() is not None:
            # faust's callback raises here (the loop logs it); the records are lost either way
            log.warning("table changelog %s: a write was not acknowledged: %r", topic, ack)
            return
        written = ack.result()
        self.data.set_persisted_offset(TP(topic, written.partition), written.offset)
