"""Overrides of faust-streaming 0.15.3's per-record machinery that cut its CPU, not its behaviour
(issue 25); registered with the other fixes by `pipeline.faust_fixes.PipelineApp`.

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
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Coroutine, Generator
from time import monotonic
from typing import Any

from faust.sensors import Monitor
from faust.types import TP, CollectionT, EventT, Message, StreamT
from faust.types.transports import ProducerT
from faust.types.tuples import PendingMessage, RecordMetadata
from mode.services import WaitArgT, WaitResults
from mode.utils.times import Seconds


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

    async def wait_first(self, *coros: WaitArgT, timeout: Seconds | None = None) -> WaitResults:
        waiting: Any = super()
        handed = coros[0] if coros else None
        if (
            timeout is not None
            or len(coros) != 2  # the callback and the flow's suspension
            or not inspect.iscoroutine(handed)
            or not self.flow_active
            or self.suspend_flow.is_set()
        ):
            return await waiting.wait_first(*coros, timeout=timeout)  # type: ignore[no-any-return]
        try:
            pending = handed.send(None)
        except StopIteration as finished:
            _discard(coros[1])
            return WaitResults([handed], [finished.value], False)
        except BaseException:
            _discard(coros[1])
            raise
        rest = _Rest(handed, pending)
        return await waiting.wait_first(rest, coros[1])  # type: ignore[no-any-return]


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
