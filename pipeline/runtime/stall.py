"""The worker's stall watchdog: records to read, nothing being processed, no progress → exit.

Defence in depth behind the fixes in `pipeline.runtime.faust_fixes`: whatever leaves a partition
unconsumed (a consumer that never fetches it again, a partition left unowned after a rebalance,
a recovery that hangs), an operator must not be left with an outage that nothing reports. Every
`CHECK_INTERVAL_SECONDS` the worker compares, for each partition it owns of the agents' source
topics, the end offset with its committed offset. A partition is stalled when it has records to
read, its committed offset has not moved for `PIPELINE_STALL_TIMEOUT` seconds, and the message at
that offset is not in an agent's hands — while a changelog recovery that still advances counts as
progress for all. A task waiting for its retry time is in an agent's hands, so a retry tier
holding tasks due later is never taken for stalled; a partition whose later messages are
processed while its commit waits for one that never comes is.

A third of the way to a stall (`REPAIR_AT`), the watchdog first seeks the partition back to its
committed offset, once per stuck offset, and logs what the consumer's fetch state was (read
offset, aiokafka's position, paused or not, where faust's fetch loop waits): a read offset or
fetch position out of step with the commits (seen after rebalances) is mended without a restart,
and counted in `pipeline_worker_partition_repairs_total`. If the partition still does not move,
the stall follows as before.

A stalled worker logs the partitions, fails `/healthz` (a liveness probe restarts it), counts the
stall in `pipeline_worker_stalls_total` and exits with `EXIT_STALLED`; at-least-once processing
makes the exit safe: what was not committed is read again by whoever owns the partition next.

A worker that owns none of its source partitions cannot see them stall, yet may be the cause: one
seen after its broker was killed during its first recovery stayed out of the group's assignment
for good, with 900 webhooks unread. So a worker that owns no source partition watches the group's
ingest topics instead (`group_positions`: the group's committed and end offsets, from Kafka's admin
API): a partition with lag and no commit for `PIPELINE_STALL_TIMEOUT`, while the group coordinator
no longer lists this worker as a member (`in_group`), means it dropped out, and the worker stalls
the same way, to be restarted and rejoin. A member the group gave nothing (more workers than
partitions) stays whatever the lag: the partitions' owners watch them, and only they can see a
long table recovery progress. Only the ingest topics count here, because their records never wait
for a subscriber; a retry tier's commit may legitimately wait for the task at its head.

A check that cannot read the end offsets (Kafka unreachable, or aiokafka waiting out a request on
a connection made while the broker was starting) stops waiting after `END_OFFSETS_TIMEOUT_SECONDS`
and decides nothing; the request goes on, and the next checks wait for that one instead of sending
another. Before, the request's `KafkaTimeoutError` (aiokafka gives up after its 90 s request
timeout) escaped this faust timer and crashed the worker, which then hung in its shutdown; ending
the worker instead is no better where nothing restarts it, and aiokafka recovers by itself once
that request times out, mostly. When the end offsets stay unanswered for `PIPELINE_STALL_TIMEOUT`
while Kafka answers a fresh admin client (the group's offsets), the consumer is wedged, not
waiting for Kafka, and the worker stalls the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from aiokafka.errors import KafkaError

from pipeline import logs, metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECK_INTERVAL_SECONDS = 5.0
EXIT_STALLED = 70  # EX_SOFTWARE: `pipeline run` and orchestrators restart the worker
# /healthz answers 503 and the stalled-partitions gauge is up this long before the exit: longer
# than a 15 s Prometheus scrape interval, so the alert sees it.
EXIT_GRACE_SECONDS = 20.0
END_OFFSETS_TIMEOUT_SECONDS = 10.0
# A third of the stall timeout without progress, a partition is sought to its committed offset.
REPAIR_AT = 1 / 3


@dataclass(frozen=True)
class PartitionState:
    """What the worker knows of one owned source partition at one check."""

    end: int  # the next offset the topic will be written at
    committed: int | None
    read: int | None  # the last offset handed to the agents
    head_in_flight: bool  # an agent holds the message at the committed offset (e.g. a retry)

    @property
    def lag(self) -> int:
        done = self.committed if self.committed is not None else (self.read or -1) + 1
        return max(0, self.end - done)


@dataclass
class StallDetector:
    """Decides, check by check, which partitions have stalled, and which are due the repair
    (a seek to the committed offset) a third of the way there; holds no Kafka client."""

    timeout: float
    clock: Callable[[], float] = time.monotonic
    _since: dict[Any, tuple[int | None, float]] = field(default_factory=dict)
    _recovery: tuple[Any, ...] | None = None
    _repaired: dict[Any, int | None] = field(default_factory=dict)  # at which committed offset

    @property
    def repair_after(self) -> float:
        return self.timeout * REPAIR_AT

    def due_repair(self) -> list[Any]:
        """The partitions without progress for `repair_after` that have not been repaired at
        their present committed offset (one repair per stuck offset; progress re-arms it)."""
        now = self.clock()
        due = [
            tp
            for tp, (marker, since) in self._since.items()
            if now - since >= self.repair_after and self._repaired.get(tp, -1) != marker
        ]
        for tp in due:
            self._repaired[tp] = self._since[tp][0]
        return sorted(due, key=str)

    def observe(
        self, partitions: Mapping[Any, PartitionState], recovery: tuple[Any, ...] | None = None
    ) -> list[Any]:
        """The partitions stalled for `timeout`; `recovery` is a changelog recovery's progress
        (None when none runs): while it changes, no partition is stalled."""
        now = self.clock()
        if recovery is not None and recovery != self._recovery:
            self._since.clear()
        self._recovery = recovery
        stalled = []
        for tp, state in partitions.items():
            marker = state.committed
            if state.lag == 0 or state.head_in_flight:
                self._since.pop(tp, None)
                continue
            previous = self._since.get(tp)
            if previous is None or previous[0] != marker:
                self._since[tp] = (marker, now)
            elif now - previous[1] >= self.timeout:
                stalled.append(tp)
        for gone in set(self._since) - set(partitions):
            del self._since[gone]
        for gone in set(self._repaired) - set(self._since):
            del self._repaired[gone]
        return sorted(stalled, key=str)


@dataclass
class StallWatchdog:
    """Reads the faust consumer's state each check and ends the worker on a stall."""

    app: Any  # the faust app; its consumer is untyped where it matters here
    detector: StallDetector
    exit: Callable[[int], None] = os._exit  # no clean shutdown: a stalled consumer may not stop
    stalled: list[Any] = field(default_factory=list)
    _unanswered_since: float | None = None  # the first of the checks failing since the last success
    _asking: asyncio.Future[Any] | None = None  # the end-offsets request still outstanding
    # The group's committed and end offsets of its ingest topics, for a worker owning none.
    group_positions: Callable[[], Awaitable[Mapping[Any, tuple[int, int]]]] | None = None
    # Whether the group coordinator lists this worker as a member now.
    in_group: Callable[[], Awaitable[bool]] | None = None
    _unowned: StallDetector | None = None  # watches the group while this worker owns nothing
    _group_unreadable: bool = False  # said once until they are read again

    @property
    def healthy(self) -> bool:
        return not self.stalled

    async def check(self) -> None:
        if self.stalled:
            return
        consumer = self.app.consumer
        sources = [tp for tp in consumer.assignment() if self._is_source(tp)]
        if not sources:
            await self._check_unowned()
            return
        self._unowned = None
        ends = await self._end_offsets(consumer, sources)
        if ends is None:
            await self._check_wedged(sources)
            return
        states = {}
        for tp in sources:
            committed = consumer._committed_offset.get(tp)
            lowest = consumer.lowest_in_flight(tp)
            states[tp] = PartitionState(
                end=ends.get(tp, 0),
                committed=committed,
                read=consumer._read_offset.get(tp),
                head_in_flight=lowest is not None and (committed is None or lowest <= committed),
            )
        stalled = self.detector.observe(states, self._recovery_progress(consumer))
        if stalled:
            log.error(
                "worker stalled: no progress for %.0f s on %s; exiting with code %d to be "
                "restarted",
                self.detector.timeout,
                _described(stalled, states),
                EXIT_STALLED,
            )
            await self._fail(stalled)
            return
        if getattr(self.app, "rebalancing", False):
            return  # recovery seeks every partition to its committed offset itself
        for tp in self.detector.due_repair():
            await self._repair(consumer, tp, states[tp])

    async def _repair(self, consumer: Any, tp: Any, state: PartitionState) -> None:
        """Seek a partition without progress back to its committed offset: whatever left its
        records unread (a fetch position or read offset out of step with the commits), they are
        read again. The stall exit stays the answer if that does not help."""
        # The seek waits its turn in faust's consumer thread, which a hung request can hold: the
        # checks must go on meanwhile (the stall exit is the backstop), and the seek with them.
        seeking = asyncio.ensure_future(consumer.reread_from_committed(tp))
        done, _ = await asyncio.wait({seeking}, timeout=END_OFFSETS_TIMEOUT_SECONDS)
        if not done:
            log.warning(
                "stall check: %s[%d]: the seek to the committed offset waits for the consumer "
                "thread; checking on",
                tp.topic,
                tp.partition,
            )
            seeking.add_done_callback(_late_seek_done)
            return
        try:
            described = seeking.result()
        except (KafkaError, RuntimeError) as exc:
            log.warning("stall check: %s[%d]: could not seek it: %s", tp.topic, tp.partition, exc)
            return
        if described is None:
            return
        metrics.WORKER_PARTITION_REPAIRS.inc()
        log.warning(
            "%s[%d]: no progress for %.0f s with lag %d; reading again from the committed "
            "offset (%s)",
            tp.topic,
            tp.partition,
            self.detector.repair_after,
            state.lag,
            described,
        )

    async def _end_offsets(self, consumer: Any, sources: list[Any]) -> dict[Any, int] | None:
        """The end offsets, or None when they could not be read in time. At most one request is
        outstanding: a request faust hands to its consumer thread holds one of the thread's two
        method-queue workers until it ends, and a new one each check would soon hold both,
        stopping every other call of the consumer (commits, seeks) behind them."""
        if self._asking is None:
            self._asking = asyncio.ensure_future(consumer.highwaters(*sources))
        done, _ = await asyncio.wait({self._asking}, timeout=END_OFFSETS_TIMEOUT_SECONDS)
        if not done:
            self._unanswered(TimeoutError())
            return None
        asking, self._asking = self._asking, None
        try:
            ends: dict[Any, int] = asking.result()
        # RuntimeError: aiokafka's request on a connection the broker's death closed ("the
        # handler is closed"); OSError: one it reset.
        except (KafkaError, TimeoutError, OSError, RuntimeError) as exc:
            self._unanswered(exc)
            return None
        if self._unanswered_since is not None:
            log.info(
                "stall check: end offsets readable again after %.0f s",
                self.detector.clock() - self._unanswered_since,
            )
            self._unanswered_since = None
        return ends

    async def _check_wedged(self, sources: list[Any]) -> None:
        """End offsets unanswered for the stall timeout: a stall if Kafka answers a client of
        its own (the group's offsets) meanwhile. The consumer is then wedged, not waiting for
        Kafka: a soak's broker round had its thread's commit and every later request hang for
        5 minutes and more, nothing consumed, with the broker back after 7 s. With Kafka
        unreachable too, a restart would not help: decide nothing."""
        since = self._unanswered_since
        if since is None or self.group_positions is None:
            return
        if self.detector.clock() - since < self.detector.timeout:
            return
        try:
            await _in_time(self.group_positions)
        except (KafkaError, OSError, RuntimeError):  # TimeoutError is an OSError
            return
        log.error(
            "worker stalled: its consumer has not answered for %.0f s while Kafka answers "
            "another client; exiting with code %d to be restarted. Its thread waits in: %s",
            self.detector.clock() - since,
            EXIT_STALLED,
            consumer_thread_waits(self.app.consumer),
        )
        await self._fail(sources)

    def _unanswered(self, exc: BaseException) -> None:
        if self._unanswered_since is None:
            self._unanswered_since = self.detector.clock()
            log.warning("stall check: end offsets unreadable (%s); trying again", _name(exc))

    def _is_source(self, tp: Any) -> bool:
        return bool(
            self.app.topics.acks_enabled_for(tp.topic)
            and tp.topic not in self.app.tables.changelog_topics
        )

    def _recovery_progress(self, consumer: Any) -> tuple[Any, ...] | None:
        if not self.app.in_recovery:
            return None
        changelogs = self.app.tables.changelog_topics
        return tuple(
            sorted(
                (str(tp), offset)
                for tp, offset in consumer._read_offset.items()
                if tp.topic in changelogs
            )
        )

    async def _check_unowned(self) -> None:
        """This worker owns no source partition: stall if the group's ingest partitions have lag
        and no commit for the timeout (nobody consumes them; this worker may be out of the
        group). A check whose offsets cannot be read in time decides nothing."""
        if self.group_positions is None:
            return
        try:
            positions = await _in_time(self.group_positions)
        except TimeoutError:
            return
        except (KafkaError, OSError, RuntimeError) as exc:
            if not self._group_unreadable:
                log.warning("stall check: the group's offsets unreadable (%s)", _name(exc))
            self._group_unreadable = True
            return
        self._group_unreadable = False
        if self._unowned is None:
            self._unowned = StallDetector(self.detector.timeout, self.detector.clock)
        states = {
            tp: PartitionState(end=end, committed=committed, read=None, head_in_flight=False)
            for tp, (committed, end) in positions.items()
        }
        stalled = self._unowned.observe(states)
        if stalled and not await self._still_a_member():
            log.error(
                "worker stalled: it owns no source partition, is not a member of its group, and "
                "nothing in the group has committed on %s for %.0f s; exiting with code %d to "
                "be restarted and rejoin",
                _described(stalled, states),
                self.detector.timeout,
                EXIT_STALLED,
            )
            await self._fail(stalled)

    async def _still_a_member(self) -> bool:
        """A member given no source partition is idle by the group's choice: the partitions'
        owners watch them (a long table recovery of theirs is progress only they can see).
        Membership that cannot be read in time counts as membership: decide nothing."""
        if self.in_group is None:
            return False
        try:
            return bool(await _in_time(self.in_group))
        except TimeoutError:
            return True
        except (KafkaError, OSError, RuntimeError) as exc:
            log.warning("stall check: the group's members unreadable (%s)", _name(exc))
            return True

    async def _fail(self, stalled: Iterable[Any]) -> None:
        self.stalled = list(stalled)
        metrics.WORKER_STALLS.inc()
        metrics.WORKER_STALLED_PARTITIONS.set(len(self.stalled))
        logs.flush_handlers()
        await asyncio.sleep(EXIT_GRACE_SECONDS)
        self.exit(EXIT_STALLED)


def consumer_thread_waits(consumer: Any) -> str:
    """Where faust's consumer thread is: its thread's frame and each of its loop's tasks, as
    chains of `function:line` from the task's coroutine to what it awaits. The evidence a wedged
    consumer leaves (read from this thread: the tasks are suspended, their frames hold still)."""
    service = getattr(consumer, "_thread", None)
    loop = getattr(service, "thread_loop", None)
    if loop is None:
        return "(no consumer thread)"
    waits = [_metadata_task(getattr(service, "_consumer", None))]
    thread = getattr(service, "_thread", None)
    frame = sys._current_frames().get(getattr(thread, "ident", None) or -1)
    if frame is not None:
        waits.append("thread at " + " < ".join(_frames(frame)))
    tasks = [_chain(task.get_coro()) for task in asyncio.all_tasks(loop)]
    waits.extend(f"task {chain}" for chain in sorted(tasks))
    return "; ".join(waits)


def _metadata_task(consumer: Any) -> str:
    """The state of aiokafka's metadata task (`pipeline.aiokafka_fixes`): every wait for metadata
    hangs without it."""
    task = getattr(getattr(consumer, "_client", None), "_sync_task", None)
    if task is None:
        return "metadata task: none"
    if not task.done():
        return "metadata task: running"
    if task.cancelled():
        return "metadata task: ended, cancelled"
    return f"metadata task: ended, {task.exception()!r}"


def _frames(frame: Any, limit: int = 6) -> list[str]:
    return [f"{f.f_code.co_name}:{line}" for f, line in islice(traceback.walk_stack(frame), limit)]


def _chain(coro: Any, limit: int = 16) -> str:
    where: list[str] = []
    while coro is not None and len(where) < limit:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            where.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " > ".join(where)


async def _in_time(ask: Callable[[], Awaitable[T]]) -> T:
    """`ask()`'s answer, or `TimeoutError` (the request cancelled) after
    `END_OFFSETS_TIMEOUT_SECONDS`: a hung Kafka request must not hold the checks."""
    asking = asyncio.ensure_future(ask())
    done, _ = await asyncio.wait({asking}, timeout=END_OFFSETS_TIMEOUT_SECONDS)
    if not done:
        asking.cancel()
        raise TimeoutError
    return asking.result()


def _described(stalled: Iterable[Any], states: Mapping[Any, PartitionState]) -> str:
    return ", ".join(
        f"{tp.topic}[{tp.partition}] (lag {states[tp].lag}, committed "
        f"{states[tp].committed}, read {states[tp].read})"
        for tp in stalled
    )


def _late_seek_done(seeking: asyncio.Future[Any]) -> None:
    """Say how a repair's seek that outlived its check ended (its error is not left unread)."""
    if seeking.cancelled():
        return
    if (exc := seeking.exception()) is not None:
        log.warning("stall check: a late seek to the committed offset failed: %s", _name(exc))
    elif seeking.result() is not None:
        log.info("stall check: a late seek to the committed offset is done (%s)", seeking.result())


def _name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
