"""Every override of faust-streaming 0.15.3's consumer and flow that the pipeline relies on.

`PipelineApp` (built by `pipeline.runtime.app.create_app`) is the only way they are registered: it
hands faust a transport whose consumer carries the fixes below. Each fix names the upstream issue
and has a test in tests/unit/test_faust_fixes.py that fails on faust's own code. The one other
override, of faust's table store (windowed tables keep every key in memory and never expire keys
from before a restart), is `pipeline.runtime.expiring_table`, with its test in
tests/unit/test_expiring_table.py. The overrides that cut faust's CPU per record without changing
what it does are `pipeline.runtime.faust_hot_path`, registered here too; those of aiokafka, under
faust and every producer, are `pipeline.aiokafka_fixes`, installed here as well.

- Commits never pass a message still in flight (faust-streaming/faust#606; the fix, PR #707, is
  unmerged). faust's `Consumer._new_offset` commits the end of the first run of acked offsets.
  With acks out of order (agent concurrency > 1) that run may start *after* a message still being
  processed: committed 10, message 10 in flight, 11 and 12 acked → faust commits 13, and with no
  committed offset yet (a new group, or offset 0, which faust stores as "none") any ack commits
  past everything in flight. A crash after such a commit loses message 10. Here the offset to
  commit is capped by the lowest offset the streams still hold un-acked on that partition.
- A message a stream skips is not counted as done. Streams skip messages fetched while flow
  control is suspended or under an older consumer generation (around rebalances and table
  recovery) and ack them "so that the lag does not grow" (`Stream.__aiter__`), which makes their
  offsets committable although no agent saw them; the seek to the committed offset that follows
  recovery then starts after them. Seen here: a worker restarted under load committed past 97
  webhooks that were never normalized. Here a skipped message holds the commit below it until it
  is read again (after that seek) and processed.
- The read offset advances only for messages handed to the streams. `_drain_messages` records a
  message as read after `wait_first(callback(message), suspend_flow.wait())`, which returns at
  once when a rebalance suspends the flow, with the message undelivered; it then runs through the
  rest of its fetched batch the same way, also after recovery has sought back to the committed
  offset. The records fetched again from there sit below that read offset and are dropped as
  already read: faust's commit then waits for them forever (the restarted worker that "never
  consumes partition 0 again"), and any commit past them loses them (a survivor of a killed peer
  lost 315 webhooks this way). Here an advance of the read offset while the flow is stopped is
  refused; seeks still set it. Nor does a hand-over move a source partition's read offset back:
  faust reads the read offset before it hands a record over and writes the record's offset
  after, so a seek to the committed offset that lands while the hand-over waits is undone. A
  stalled survivor was seen with its read offset at 274 below its committed 513; this is one
  path to that state found in the code, not shown to be the one taken.
- The commit never starts after a hole: if the first acked offset is above the committed one and
  the offsets between are neither in flight nor known gaps, nothing is committed (faust allowed a
  hole of one offset, and none at all was checked with nothing committed yet). A message that
  was never processed thus stops the partition's commits, which the stall watchdog
  (`pipeline.runtime.stall`) turns into a restart that reads it again, instead of being skipped
  for good.
- Records fetched for a partition that is paused while the batch is being handed out are fetched
  again. faust's `getmany` yields a fetched record only while its partition is active (or
  buffer-full); a partition paused meanwhile (table recovery and rebalances pause them) has the
  rest of its batch dropped without a word, although aiokafka's position is already past it, and
  no seek follows unless the flow stopped or the generation changed. A restarted worker was seen
  skipping 42 consecutive delivery tasks (offsets 193 to 234; the 16 before and all after were
  delivered) with its commits stuck at the head until the stall watchdog ended it (the cleared
  channels below fit that block better). Here the partition is sought back to the first record
  not handed out, but never below its committed offset (a batch fetched from an older position
  while another member committed past it: seen sought 311 records below the commit, after which
  the partition stalled).
- A seek while a fetched batch is being handed out ends that partition's part of the batch.
  faust's recovery resumes the stream partitions *before* it seeks them to the committed
  offsets, with the flow already running, so a batch fetched from the old position is handed out
  while `perform_seek` runs, and goes on being handed out after it: the read offset runs past
  the committed offset again and the records fetched from there are dropped as already read.
  Here the rest of the batch is not handed out, and the partition is sought again to where the
  seek put it (records it fetched meanwhile would otherwise be passed by aiokafka's position).
- Records cleared from the agents' channels are read again. faust's flow control clears every
  channel when the flow is resumed (`FlowControlEvent.resume`), also when it was running; after
  recovery it is resumed once more, and records handed out meanwhile were thrown away with their
  read offsets recorded: a restarted worker was seen leaving 333 delivery tasks (offsets 214 to
  546) unread, its commits stuck at 214, until the stall watchdog ended it. Here each partition
  with cleared records is sought back to the lowest of them.
- A repair the stall watchdog calls (`SafeConsumer.reread_from_committed`): a partition without
  progress is sought to its committed offset in the consumer's thread (aiokafka's position is
  that thread's: its `getall` moves the position after a batch, and faust's own `_seek` sets it
  from the event loop's thread, which can race with that), and what the fetch state was is
  logged.
- The consumer subscribes only once the broker lists every topic it subscribes to. faust creates
  the tables' changelog topics at startup and subscribes a moment later; a broker that has not
  yet taken a new topic into its metadata answers "unknown topic", and aiokafka's group
  coordinator keeps 0 partitions for it (the count faust's `topic_partitions` reads), so every
  table write fails with `PartitionsMismatch` ("the changelog topic has 0 partitions"). Seen on a
  fresh `make soak` stack: every `delivered` mark failed for the whole 8-minute run, through four
  broker restarts; each delivery became an `internal_error` dead letter after its 2xx, and a
  broker restart had 720 deliveries sent again. Here `subscribe` first waits (at most
  `SUBSCRIBE_WAIT_SECONDS`) until a metadata request lists them all. A search of faust's and
  aiokafka's issue threads found no report of it.
- A gap in offsets (compaction, transaction markers) is merged into the acked offsets up to and
  *including* the first message after it (`_drain_messages` passes that message's own offset as
  the gap's inclusive end), so that message counted as done before any agent saw it. Here a gap
  ends just before it.
- A jump in an agent source's offsets is read again before it is taken for a gap. faust takes any
  record more than one past the read offset as proof that the offsets between do not exist, and
  commits past them. The agents' sources are never compacted nor written in transactions, so on
  them a jump means records fetched and never handed out (faust's `getmany` ends a batch
  silently when the flow stops or the generation changes). Seen in crash tests under load: after
  a broker restart and rejoin, recovery sought `webhooks.raw[3]` to its committed offset 300 and
  the next record handed out was 727 (faust would have committed past 427 records no agent saw;
  a soak round that lost 179 silently fits this). Here the partition is sought back
  to the first of them (never below the committed offset), and the read offset stays where the
  seek put it until the next batch, so they are handed out; only a jump seen again at the same
  record after that (records deleted by retention meanwhile) is passed over as a gap. Each
  re-read counts in `pipeline_worker_partition_repairs_total`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from bisect import bisect_left
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import faust
from faust.streams import _current_event
from faust.transport.consumer import ensure_TP
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, EventT, Message, TransportT
from faust.types.tuples import ack_lock
from faust.utils.functional import consecutive_numbers
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from pipeline import aiokafka_fixes, metrics
from pipeline.health import unlisted_topics
from pipeline.runtime.faust_hot_path import EagerHandOver, QuietMonitor

log = logging.getLogger(__name__)
SUBSCRIBE_WAIT_SECONDS = 30.0
LISTING_POLL_SECONDS = 0.1


async def wait_until_listed(
    topics: set[str],
    unlisted: Callable[[set[str]], Awaitable[set[str]]],
    limit: float = SUBSCRIBE_WAIT_SECONDS,
) -> set[str]:
    """Poll `unlisted` until it names none of `topics` or `limit` seconds pass; what is still
    unlisted then is logged and returned (faust goes on as it would have)."""
    started = time.monotonic()
    missing = first = await unlisted(topics)
    while missing and time.monotonic() < started + limit:
        await asyncio.sleep(LISTING_POLL_SECONDS)
        missing = await unlisted(missing)
    if first and not missing:
        log.info(
            "waited %.2f s for the broker to list %s before subscribing",
            time.monotonic() - started,
            ", ".join(sorted(first)),
        )
    elif missing:
        log.warning(
            "subscribing although the broker does not list %s after %.0f s: writes to tables "
            "on them may fail until the worker restarts",
            ", ".join(sorted(missing)),
            limit,
        )
    return missing


class SafeConsumer(EagerHandOver, faust_aiokafka.Consumer):
    """faust's aiokafka consumer whose commits stay below every message in flight or skipped,
    handing records to the streams without a task per record (`EagerHandOver`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Offsets a stream skipped and acked without an agent seeing them, per partition.
        self._skipped: defaultdict[TP, set[int]] = defaultdict(set)
        self._read_offsets = ReadOffsets(self)
        self._read_offset = self._read_offsets
        # The first and last offset of each partition's records in the batch being handed out.
        self._fetched: dict[TP, tuple[int, int]] = {}
        # A hole in a source partition's offsets read again: (its start, the record after it).
        self._gaps_seen: dict[TP, tuple[int, int]] = {}

    async def subscribe(self, topics: Iterable[str]) -> None:
        names = set(topics)
        transport: Any = self.transport  # the aiokafka transport: `TransportT` lacks its port
        bootstrap = ",".join(faust_aiokafka.server_list(transport.url, transport.default_port))
        await wait_until_listed(names, lambda wanted: unlisted_topics(bootstrap, wanted))
        await super().subscribe(names)

    async def seek(self, partition: TP, offset: int) -> None:
        await self._seek(partition, offset)
        self._read_offsets.seek(ensure_TP(partition), offset or None)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active = await super()._wait_next_records(timeout)
        self._fetched = {tp: (r[0].offset, r[-1].offset) for tp, r in (records or {}).items() if r}
        self._read_offsets.sought.clear()  # a seek from now on ends its partition's batch
        return records, active

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        self._fetched = {}
        generation = self.app.consumer_generation_id
        handed: dict[TP, int] = {}
        cut: set[TP] = set()  # partitions sought while their records were being handed out
        sought = self._read_offsets.sought
        async for tp, message in super().getmany(timeout):
            if tp in sought and self._is_agent_source(tp.topic):
                cut.add(tp)
                continue
            handed[tp] = message.offset
            yield tp, message
        for tp in cut:
            target = sought.get(tp)
            log.info(
                "%s[%d]: sought while a batch was handed out; reading again from offset %s",
                tp.topic,
                tp.partition,
                target,
            )
            await self.seek(tp, target or 0)
        if not self.flow_active or self.app.consumer_generation_id != generation:
            return  # faust seeks every partition back to its committed offset itself
        assignment = self.assignment()
        for tp, (first, last) in self._fetched.items():
            given = handed.get(tp)
            if tp not in cut and (given is None or given < last) and tp in assignment:
                again = first if given is None else given + 1
                committed = self._committed_offset.get(tp)
                if committed is not None and last < committed:
                    continue  # a batch from before the last commit: nothing in it is unread
                again = max(again, committed or 0)
                log.warning(
                    "%s[%d]: offsets %d-%d were fetched while the partition was paused; "
                    "reading them again",
                    tp.topic,
                    tp.partition,
                    again,
                    last,
                )
                await self.seek(tp, again)

    def ack(self, message: Message) -> bool:
        if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
            # Only a stream that hands a message to an agent tracks it: this one was skipped.
            with ack_lock:
                if not message.acked:
                    message.acked = True
                    skipped = self._skipped[message.tp]
                    if not skipped:
                        log.info(
                            "%s[%d]: a stream skipped offset %d (rebalance or recovery); "
                            "commits stay below it until it is read again and processed",
                            message.topic,
                            message.partition,
                            message.offset,
                        )
                    skipped.add(message.offset)
            return False
        self._skipped[message.tp].discard(message.offset)
        return bool(super().ack(message))

    def read_again(self, cleared: list[Message]) -> None:
        """Seek each assigned partition back to the lowest of its `cleared` records (taken out
        of the agents' channels unprocessed), unless they lie ahead of where it reads now."""
        lowest: dict[TP, int] = {}
        for message in cleared:
            if message.acked or not self._is_agent_source(message.topic):
                continue
            lowest[message.tp] = min(message.offset, lowest.get(message.tp, message.offset))
        if not lowest:
            return
        assignment = self.assignment()
        for tp, offset in sorted(lowest.items()):
            read = self._read_offsets.get(tp)
            if tp not in assignment or read is None or offset > read:
                continue  # revoked, or the records from `offset` on are still to be fetched
            log.warning(
                "%s[%d]: records from offset %d were cleared from the agents' buffers "
                "(rebalance or recovery); reading them again",
                tp.topic,
                tp.partition,
                offset,
            )
            self._seek_now(tp, offset)
            self._read_offsets.seek(tp, offset)

    async def reread_from_committed(self, tp: TP) -> str | None:
        """Seek `tp` to its committed offset, in the consumer's thread (aiokafka's position is
        that thread's to change while it fetches), and say what the fetch state was; None when
        `tp` is not owned or has nothing committed. The stall watchdog's repair: records after
        the committed offset are read again (at least once), whatever left them unread."""
        committed = self._committed_offset.get(tp)
        if committed is None or tp not in self.assignment():
            return None
        thread: Any = self._thread
        fetching = await thread.call_thread(self._seek_in_thread, tp, committed)
        read = self._read_offsets.get(tp)
        self._read_offsets.seek(tp, committed)
        self._skipped[tp].clear()
        return (
            f"read {read}, committed {committed}; {fetching}; flow "
            f"{'active' if self.flow_active else 'stopped'}, "
            f"{'active' if tp in self._get_active_partitions() else 'paused'} in faust; "
            f"fetch loop {fetch_loop_position()}"
        )

    async def _seek_in_thread(self, tp: TP, offset: int) -> str:
        thread: Any = self._thread
        consumer = thread._ensure_consumer()
        fetcher = consumer._fetcher
        state = fetcher._subscriptions._assigned_state(tp)  # aiokafka 0.14's partition state
        described = (
            f"aiokafka at {state._position} ({state._status.name.lower()}, "
            f"{'paused' if state.paused else 'not paused'}, "
            f"{'a fetched batch waiting' if tp in fetcher._records else 'no batch waiting'})"
        )
        consumer.seek(tp, offset)
        return described

    def member_id(self) -> str | None:
        """This consumer's member id in its group (aiokafka's coordinator, as faust reads its
        generation), None while it is not a member."""
        thread: Any = self._thread
        coordinator = getattr(thread._consumer, "_coordinator", None)
        member: str | None = getattr(coordinator, "member_id", None)
        return member or None  # aiokafka's "unknown member" is ""

    def _is_agent_source(self, topic: str) -> bool:
        return bool(
            self.app.topics.acks_enabled_for(topic)
            and topic not in self.app.tables.changelog_topics
        )

    def _seek_now(self, tp: TP, offset: int) -> None:
        """aiokafka's seek, at once: `read_again` runs inside faust's synchronous `clear`."""
        self._thread.seek(tp, offset)

    def lowest_in_flight(self, tp: TP) -> int | None:
        """The lowest offset on `tp` that a stream has taken and not yet acked, or skipped.

        Streams track a message when they take it from their channel, and one channel is read in
        order, so messages not yet taken all sit above every tracked or acked offset: only the
        tracked, un-acked ones can be passed by a commit.
        """
        offsets = [m.offset for m in self._unacked_messages if m.tp == tp and not m.acked]
        committed = self._committed_offset[tp] or 0
        offsets += [offset for offset in self._skipped[tp] if offset >= committed]
        return min(offsets) if offsets else None

    def _new_offset(self, tp: TP) -> int | None:
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        self._merge_gaps(tp, acked)
        acked.sort()
        # Where the partition's unprocessed messages start: the committed offset, or with none
        # yet, the first offset handed to the streams since the partition was sought.
        start = self._committed_offset[tp]
        if start is None:
            start = self._read_offsets.first.get(tp)
        if start is not None:
            del acked[: bisect_left(acked, start)]  # acks of offsets committed already
            if not acked or acked[0] > start:
                return None  # the first unprocessed message has not been processed yet
        batch = next(consecutive_numbers(acked))
        floor = self.lowest_in_flight(tp)
        if floor is not None and floor <= batch[-1]:
            if floor <= batch[0]:
                return None  # the head of the partition is still being processed
            batch = [offset for offset in batch if offset < floor]
        del acked[: len(batch)]
        self._acked_index[tp].difference_update(batch)
        return int(batch[-1]) + 1

    def _merge_gaps(self, tp: TP, acked: list[int]) -> None:
        """Count the offsets known not to exist (gaps) up to the highest acked one as acked."""
        gaps = self._gap[tp]
        if not gaps:
            return
        highest = max(acked)
        missing = [
            offset
            for interval in sorted(gaps.overlap(0, highest), key=lambda i: i.begin)
            for offset in range(interval.begin, interval.end)
        ]
        if missing:
            acked.extend(missing)
            gaps.chop(0, max(missing[-1], highest) + 1)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # `offset_to` is the offset of the message that revealed the gap: it exists and is about
        # to be processed, so the gap ends one before it.
        if not self._is_agent_source(tp.topic):
            await super()._add_gap(tp, offset_from, offset_to - 1)
            return
        first_sighting = self._gaps_seen.pop(tp, None)
        if first_sighting is not None and first_sighting[1] == offset_to:
            # Read again from before it, the same record follows the same hole: those offsets
            # do not exist (transaction markers, or records deleted by retention meanwhile).
            committed = self._committed_offset.get(tp) or 0
            start = max(min(first_sighting[0], offset_from), committed)
            log.info(
                "%s[%d]: offsets %d-%d do not exist (read twice); passing over them",
                tp.topic,
                tp.partition,
                start,
                offset_to - 1,
            )
            if start < offset_to:
                self._gap[tp].addi(start, offset_to)
                self._gap[tp].merge_overlaps()
            return
        again = max(offset_from, self._committed_offset.get(tp) or 0)
        if again >= offset_to:
            return  # a read offset behind the commit: nothing after the committed one is missing
        self._gaps_seen[tp] = (again, offset_to)
        log.warning(
            "%s[%d]: offset %d is the next handed to an agent, but %d-%d never were; "
            "reading them again",
            tp.topic,
            tp.partition,
            offset_to,
            again,
            offset_to - 1,
        )
        metrics.WORKER_PARTITION_REPAIRS.inc()
        await self.seek(tp, again)


class ReadOffsets(dict[TP, int | None]):
    """faust's per-partition read offsets (the last offset handed to the streams, or after a seek
    the next to read), refusing to advance while the consumer's flow is stopped."""

    def __init__(self, consumer: SafeConsumer) -> None:
        super().__init__()
        self._consumer = consumer
        # The first offset read since a seek that left no read offset (nothing committed yet).
        self.first: dict[TP, int] = {}
        # Partitions sought since the batch being handed out was fetched, with the offset sought.
        self.sought: dict[TP, int | None] = {}

    def __missing__(self, tp: TP) -> None:
        return None

    def __setitem__(self, tp: TP, offset: int | None) -> None:
        current = self.get(tp)
        advances = offset is not None and (current is None or offset > current)
        if advances and not self._consumer.flow_active:
            return  # a message of a batch fetched before the flow stopped: not delivered
        if (
            current is not None
            and (not advances or tp in self.sought)
            and self._consumer._is_agent_source(tp.topic)
        ):
            # A hand-over that began before a seek and ended after it: the seek's position
            # stands (only `seek` moves a source partition's read offset, back or forth, until
            # the next batch is fetched from where the seek put aiokafka).
            return
        if current is None and offset is not None:
            self.first.setdefault(tp, offset)
        super().__setitem__(tp, offset)

    def __delitem__(self, tp: TP) -> None:
        self.first.pop(tp, None)
        super().__delitem__(tp)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """A seek to the committed offsets (`perform_seek`): set whatever the flow."""
        for tp, offset in dict(*args, **kwargs).items():
            self.seek(tp, offset)

    def seek(self, tp: TP, offset: int | None) -> None:
        self.first.pop(tp, None)
        self.sought[tp] = offset
        super().__setitem__(tp, offset)

    def pop(self, tp: TP, *default: Any) -> Any:
        self.first.pop(tp, None)
        return super().pop(tp, *default)


def fetch_loop_position() -> str:
    """Where faust's fetch loop (`Consumer._drain_messages`) waits, innermost frames last.

    A suspended task's `get_stack` shows only its outermost coroutine; the chain of coroutines
    each awaits is followed here instead (it ends at an async generator's step)."""
    for task in asyncio.all_tasks():
        frames: list[FrameType] = []
        awaited: Any = task.get_coro()
        while awaited is not None and len(frames) < 64:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is None:
                break
            frames.append(frame)
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        names = [frame.f_code.co_name for frame in frames]
        if "_drain_messages" in names:
            inner = frames[names.index("_drain_messages") :][:4]
            return " > ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in inner)
    return "not running"


@contextmanager
def as_current(event: EventT[Any]) -> Iterator[None]:
    """Make `event` faust's current event while the block runs, as a stream does for the event it
    hands out: a table write or a windowed lookup takes its partition and time from it. A batch
    sets it per record (setting `Stream.current_event` instead rewrites what the stream reads)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class RereadingFlowControl(FlowControlEvent):
    """faust's flow control, whose clearing of the agents' channels hands the records it throws
    away to `on_cleared` (the consumer reads them again)."""

    def __init__(self, on_cleared: Callable[[list[Message]], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_cleared = on_cleared

    def clear(self) -> None:
        cleared = [
            item.message
            for queue in list(self._queues or ())
            for item in list(queue._queue)  # type: ignore[attr-defined]  # asyncio.Queue's deque
            if isinstance(item, EventT)
        ]
        super().clear()
        if cleared:
            self._on_cleared(cleared)


class PipelineTransport(faust_aiokafka.Transport):
    Consumer = SafeConsumer


class PipelineApp(faust.App):
    """The faust app with the pipeline's consumer and flow-control fixes registered, and a monitor
    that keeps no per-record statistics (`QuietMonitor`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("Monitor", QuietMonitor)
        aiokafka_fixes.install()
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> TransportT:
        transport: Any = PipelineTransport(self.conf.broker_consumer, self)
        return transport  # type: ignore[no-any-return]  # faust's TransportT is a Protocol-like ABC

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return RereadingFlowControl(self._read_again, loop=self.loop)

    def _read_again(self, cleared: list[Message]) -> None:
        consumer: Any = self.consumer
        consumer.read_again(cleared)
