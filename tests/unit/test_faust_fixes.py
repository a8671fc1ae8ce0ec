"""pipeline.runtime.faust_fixes: commits never pass a message in flight (faust-streaming/faust#606);
pipeline.runtime.faust_hot_path: the same hand-over, monitoring and table writes at less CPU per
record.

Each case runs against the pipeline's consumer and, to show the test has teeth, against faust's
own consumer, which must get it wrong.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import Mock

import faust
import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.sensors import Monitor
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from pipeline.runtime.app import create_app
from pipeline.runtime.faust_fixes import SafeConsumer, as_current
from pipeline.runtime.faust_hot_path import QuietMonitor
from pipeline.runtime.tables import declare_tables
from pipeline.settings import load_settings
from tests.support.fake_kafka import RecordProducer

PARTITION = TP("webhooks.raw", 0)


def new_consumer(directory: Path) -> Any:
    """The app's consumer, not started, with the topic acked as an agent's source topic is."""
    app = create_app(load_settings(data_dir=directory, app_id="faust-fixes-test"))
    app.topics._acking_topics.add(PARTITION.topic)
    return app.consumer


@pytest.fixture
def consumer(tmp_path: Path) -> Any:
    return new_consumer(tmp_path)


def message(offset: int, tp: TP = PARTITION) -> ConsumerMessage:
    return ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, tp)


def take(consumer: Any, *offsets: int) -> list[ConsumerMessage]:
    """What a stream does when it takes messages from its channel: track them as un-acked."""
    taken = [message(offset) for offset in offsets]
    for m in taken:
        m.tracked = True
        consumer._unacked_messages.add(m)
    return taken


def ack(consumer: Any, m: ConsumerMessage) -> None:
    assert m.ack(consumer)


def commit(consumer: Any) -> int | None:
    """What faust's commit does with the offset `_new_offset` finds: it becomes the committed."""
    offset: int | None = consumer._new_offset(PARTITION)
    if offset is not None:
        consumer._committed_offset[PARTITION] = offset
    return offset


def commit_offset(
    consumer: Any, committed: int | None, in_flight: list[int], done: list[int]
) -> Any:
    consumer._committed_offset[PARTITION] = committed
    taken = {m.offset: m for m in take(consumer, *in_flight, *done)}
    for offset in done:
        ack(consumer, taken[offset])
    return consumer._new_offset(PARTITION), taken


def test_the_app_uses_the_fixed_consumer(consumer: Any) -> None:
    assert isinstance(consumer, SafeConsumer)


@pytest.mark.parametrize(
    ("committed", "in_flight", "done"),
    [
        (10, [10], [11, 12]),  # the head of the partition, at the committed offset, in flight
        (None, [3], [4, 5]),  # no committed offset yet
        (0, [0], [1, 2]),  # committed offset 0, which faust stores as "none"
    ],
    ids=["at-committed-offset", "nothing-committed", "committed-zero"],
)
def test_no_commit_passes_the_message_in_flight(
    consumer: Any, committed: int | None, in_flight: list[int], done: list[int]
) -> None:
    offset, _ = commit_offset(consumer, committed, in_flight, done)
    assert offset is None or offset <= in_flight[0]


@pytest.mark.parametrize(
    ("committed", "in_flight", "done"),
    [(10, [10], [11, 12]), (None, [3], [4, 5]), (0, [0], [1, 2])],
)
def test_faust_alone_commits_past_it(
    tmp_path: Path, committed: int | None, in_flight: list[int], done: list[int]
) -> None:
    """The defect the fix exists for, shown on faust's unmodified method."""
    consumer = new_consumer(tmp_path)
    consumer._committed_offset[PARTITION] = committed
    taken = {m.offset: m for m in take(consumer, *in_flight, *done)}
    for offset in done:
        ack(consumer, taken[offset])
    offset = faust_aiokafka.Consumer._new_offset(consumer, PARTITION)
    assert offset == done[-1] + 1  # past in_flight[0], still in flight


def test_the_acked_offsets_are_kept_until_the_head_is_done(consumer: Any) -> None:
    offset, taken = commit_offset(consumer, 10, [10], [11, 12])
    assert offset is None
    ack(consumer, taken[10])
    assert commit(consumer) == 13


def test_a_message_in_flight_in_the_middle_caps_the_commit(consumer: Any) -> None:
    offset, taken = commit_offset(consumer, 10, [12], [10, 11, 13, 14])
    assert offset == 12
    consumer._committed_offset[PARTITION] = offset
    ack(consumer, taken[12])
    assert commit(consumer) == 15


def test_in_order_acks_commit_everything(consumer: Any) -> None:
    offset, _ = commit_offset(consumer, 10, [], [10, 11, 12])
    assert offset == 13


def test_a_partition_with_nothing_in_flight_ignores_other_partitions(consumer: Any) -> None:
    other = TP("webhooks.raw", 1)
    busy = message(0, other)
    busy.tracked = True
    consumer._unacked_messages.add(busy)
    offset, _ = commit_offset(consumer, 5, [], [5, 6])
    assert offset == 7


def seeks(consumer: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[TP, int]]:
    """Record the consumer's seeks of aiokafka's position instead of making them."""
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    monkeypatch.setattr(consumer, "_seek", seek)
    return sought


async def test_a_jump_in_a_source_partition_is_read_again_not_committed_past(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records 5..9 were fetched and never handed out (a batch ended silently); 10 arrives."""
    sought = seeks(consumer, monkeypatch)
    consumer._committed_offset[PARTITION] = 4
    consumer._read_offset[PARTITION] = 4
    (head,) = take(consumer, 4)
    ack(consumer, head)
    await consumer._add_gap(PARTITION, 5, 10)  # what _drain_messages passes for message 10
    assert sought == [(PARTITION, 5)]
    assert not consumer._gap[PARTITION]
    consumer._read_offset[PARTITION] = 10  # _drain_messages, once 10 is handed over
    assert consumer._read_offset[PARTITION] == 5  # the seek stands: 5.. are handed out next
    (tenth,) = take(consumer, 10)
    ack(consumer, tenth)
    assert commit(consumer) == 5  # 4 is done; nothing passes 5..9 until they are processed
    assert commit(consumer) is None


async def test_faust_alone_commits_past_a_jump(tmp_path: Path) -> None:
    consumer = new_consumer(tmp_path)
    consumer._committed_offset[PARTITION] = 4
    (head,) = take(consumer, 4)
    ack(consumer, head)
    await faust_aiokafka.Consumer._add_gap(consumer, PARTITION, 5, 10)
    (tenth,) = take(consumer, 10)
    ack(consumer, tenth)
    assert faust_aiokafka.Consumer._new_offset(consumer, PARTITION) == 11  # 5..9 never seen


async def test_a_jump_seen_again_after_reading_again_is_a_gap_ending_before_its_message(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offsets 5..9 do not exist (deleted by retention meanwhile): after the seek to 5, the next
    record is 10 again, and 10 is still being processed."""
    sought = seeks(consumer, monkeypatch)
    consumer._committed_offset[PARTITION] = 4
    (head,) = take(consumer, 4)
    ack(consumer, head)
    await consumer._add_gap(PARTITION, 5, 10)
    await consumer._add_gap(PARTITION, 6, 10)  # faust's read offset after a seek to 5 is 5
    assert sought == [(PARTITION, 5)]
    assert consumer._gap[PARTITION].overlaps(5)
    assert not consumer._gap[PARTITION].overlaps(10)
    (tenth,) = take(consumer, 10)
    assert commit(consumer) == 5  # 4 is done; the gap is merged once 10 is
    ack(consumer, tenth)
    assert commit(consumer) == 11


async def test_a_gap_on_a_changelog_ends_before_the_message_that_revealed_it(
    consumer: Any,
) -> None:
    """Tables' changelogs are compacted: their gaps are real at once."""
    changelog = TP("faust-fixes-test-dedup-changelog", 0)
    consumer.app.tables._changelogs[changelog.topic] = Mock()
    await consumer._add_gap(changelog, 5, 10)
    assert consumer._gap[changelog].overlaps(5)
    assert not consumer._gap[changelog].overlaps(10)


async def test_faust_alone_counts_the_message_after_a_gap_as_done(tmp_path: Path) -> None:
    consumer = new_consumer(tmp_path)
    consumer._committed_offset[PARTITION] = 4
    await faust_aiokafka.Consumer._add_gap(consumer, PARTITION, 5, 10)
    assert consumer._gap[PARTITION].overlaps(10)


def skip(consumer: Any, offset: int) -> ConsumerMessage:
    """What `Stream.__aiter__` does with a message fetched while flow control is suspended or
    under an older generation: it never tracks it, and acks it."""
    skipped = message(offset)
    skipped.ack(consumer)
    return skipped


def test_a_skipped_message_holds_the_commit_until_it_is_processed(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 1371
    for offset in range(1371, 1468):
        skip(consumer, offset)
    later = take(consumer, 1468, 1469)
    for m in later:
        ack(consumer, m)
    assert consumer._new_offset(PARTITION) is None
    again = take(consumer, *range(1371, 1468))  # read again after the seek to the committed offset
    for m in again:
        ack(consumer, m)
    assert consumer._new_offset(PARTITION) == 1470


def test_faust_alone_commits_past_skipped_messages(tmp_path: Path) -> None:
    consumer = new_consumer(tmp_path)
    consumer._committed_offset[PARTITION] = 1371
    for offset in range(1371, 1468):
        faust_aiokafka.Consumer.ack(consumer, message(offset))
    assert faust_aiokafka.Consumer._new_offset(consumer, PARTITION) == 1468  # never processed


def test_the_read_offset_does_not_advance_while_the_flow_is_stopped(consumer: Any) -> None:
    """A rebalance stops the flow; recovery seeks back to the committed offset 2421; the drain
    loop, still iterating a batch fetched before, records 2423..2737 as read without delivering
    them. The records fetched again from 2421 must not be dropped as already read."""
    consumer.stop_flow()
    consumer._read_offset.update({PARTITION: 2421})  # perform_seek
    for offset in range(2423, 2738):
        consumer._read_offset[PARTITION] = offset  # _drain_messages, flow suspended
    assert consumer._read_offset[PARTITION] == 2421
    consumer.resume_flow()
    consumer._read_offsets.sought.clear()  # `_wait_next_records`: a batch from 2421 is fetched
    consumer._read_offset[PARTITION] = 2421  # the first record fetched again, delivered
    assert consumer._read_offset[PARTITION] == 2421
    consumer._read_offset[PARTITION] = 2422
    assert consumer._read_offset[PARTITION] == 2422


def test_faust_alone_lets_the_read_offset_run_past_undelivered_records(tmp_path: Path) -> None:
    plain = new_consumer(tmp_path)
    plain._read_offset = defaultdict(lambda: None)  # faust's own mapping
    plain.stop_flow()
    plain._read_offset.update({PARTITION: 2421})
    for offset in range(2423, 2738):
        plain._read_offset[PARTITION] = offset
    assert plain._read_offset[PARTITION] == 2737  # 2421..2736 fetched again are dropped


def test_a_hole_at_the_committed_offset_stops_the_commit(consumer: Any) -> None:
    """Records 2423..2737 were never processed (dropped): acks of later ones commit nothing."""
    offset, _ = commit_offset(consumer, 2423, [], [2738, 2739])
    assert offset is None


def test_with_nothing_committed_a_hole_after_the_first_record_read_stops_the_commit(
    consumer: Any,
) -> None:
    consumer._read_offset.update({PARTITION: None})  # sought; nothing committed
    consumer._read_offset[PARTITION] = 0  # the first record handed to the streams
    offset, _ = commit_offset(consumer, None, [], [5, 6])
    assert offset is None
    again = take(consumer, 0, 1, 2, 3, 4)
    for m in again:
        ack(consumer, m)
    assert commit(consumer) == 7


def test_a_seek_sets_the_read_offset_whatever_the_flow(consumer: Any) -> None:
    consumer._read_offset[PARTITION] = 3000
    consumer.stop_flow()
    consumer._read_offset.update({PARTITION: 2421})
    assert consumer._read_offset[PARTITION] == 2421


def test_a_hand_over_that_ends_after_a_seek_leaves_the_seek_s_read_offset(
    consumer: Any,
) -> None:
    """The fetch loop reads the read offset (274), hands record 274 over, and a rebalance's seek
    to the committed offset 513 lands while the hand-over waits; when it returns, faust records
    274 as read. The read offset must stay where the seek put it."""
    consumer._read_offset.update({PARTITION: 513})  # perform_seek during the hand-over
    consumer._read_offset[PARTITION] = 274  # _drain_messages, after the hand-over
    assert consumer._read_offset[PARTITION] == 513


def test_faust_alone_moves_the_read_offset_back_below_the_commit(tmp_path: Path) -> None:
    plain = new_consumer(tmp_path)
    plain._read_offset = defaultdict(lambda: None)
    plain._read_offset.update({PARTITION: 513})
    plain._read_offset[PARTITION] = 274
    assert plain._read_offset[PARTITION] == 274


def fetched_batch(consumer: Any, monkeypatch: pytest.MonkeyPatch, *offsets: int) -> list[Any]:
    """Make the next fetch return records at `offsets` on PARTITION; the seeks done, listed."""
    from aiokafka.structs import ConsumerRecord  # noqa: PLC0415 - only these tests build records

    records = [
        ConsumerRecord(PARTITION.topic, PARTITION.partition, o, 0, 0, b"k", b"v", None, 1, 1, [])
        for o in offsets
    ]
    consumer._active_partitions = {PARTITION}

    async def wait_next_records(self: Any, timeout: float) -> tuple[Any, Any]:
        return {PARTITION: records}, self._get_active_partitions()

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", wait_next_records)
    monkeypatch.setattr(consumer, "highwater", lambda tp: offsets[-1] + 1)
    monkeypatch.setattr(consumer, "assignment", lambda: {PARTITION})
    return seeks(consumer, monkeypatch)


async def handed_out_pausing_after_the_first(
    consumer: Any, *, faust_alone: bool = False
) -> list[int]:
    getmany = faust_aiokafka.Consumer.getmany if faust_alone else type(consumer).getmany
    handed = []
    async for _, m in getmany(consumer, timeout=0.1):
        handed.append(m.offset)
        consumer.pause_partitions([PARTITION])  # table recovery or a rebalance pauses it
    return handed


async def test_records_fetched_for_a_partition_paused_meanwhile_are_fetched_again(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sought = fetched_batch(consumer, monkeypatch, 10, 11, 12)
    assert await handed_out_pausing_after_the_first(consumer) == [10]
    assert sought == [(PARTITION, 11)]
    assert consumer._read_offset[PARTITION] == 11


async def test_faust_alone_drops_them_without_a_seek(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = new_consumer(tmp_path)
    sought = fetched_batch(consumer, monkeypatch, 10, 11, 12)
    assert await handed_out_pausing_after_the_first(consumer, faust_alone=True) == [10]
    assert sought == []  # 11 and 12: aiokafka's position is past them, nobody reads them again


async def test_a_paused_batch_is_read_again_from_no_lower_than_the_committed_offset(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch fetched from an older position (3475..3906) while another member committed 3786:
    reading it again from 3475 would put the read offset 300 records below the commit."""
    sought = fetched_batch(consumer, monkeypatch, 10, 11, 12, 13, 14)
    consumer._committed_offset[PARTITION] = 12
    assert await handed_out_pausing_after_the_first(consumer) == [10]
    assert sought == [(PARTITION, 12)]
    assert consumer._read_offset[PARTITION] == 12


async def test_a_paused_batch_wholly_below_the_committed_offset_seeks_nothing(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sought = fetched_batch(consumer, monkeypatch, 10, 11, 12)
    consumer._committed_offset[PARTITION] = 40
    assert await handed_out_pausing_after_the_first(consumer) == [10]
    assert sought == []


async def test_a_batch_handed_out_whole_seeks_nothing(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sought = fetched_batch(consumer, monkeypatch, 10, 11, 12)
    assert [m.offset async for _, m in consumer.getmany(timeout=0.1)] == [10, 11, 12]
    assert sought == []


async def handed_out_seeking_after_the_second(
    consumer: Any, *, faust_alone: bool = False
) -> list[int]:
    """Hand a batch out as `_drain_messages` does (each record becomes the read offset), while
    faust's recovery seeks the partition to its committed offset 10 after the second record."""
    getmany = faust_aiokafka.Consumer.getmany if faust_alone else type(consumer).getmany
    handed = []
    async for tp, m in getmany(consumer, timeout=0.1):
        handed.append(m.offset)
        consumer._read_offset[tp] = m.offset
        if len(handed) == 2:
            consumer._read_offset.update({PARTITION: 10})  # perform_seek, after seek_to_committed
    return handed


async def test_a_seek_while_a_batch_is_handed_out_ends_that_partitions_batch(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sought = fetched_batch(consumer, monkeypatch, 10, 11, 12, 13, 14)
    consumer.resume_flow()
    assert await handed_out_seeking_after_the_second(consumer) == [10, 11]
    assert sought == [(PARTITION, 10)]  # aiokafka put back where the seek meant it to be
    assert consumer._read_offset[PARTITION] == 10  # 10.. fetched again are handed out


async def test_faust_alone_hands_the_rest_out_and_runs_the_read_offset_past_the_seek(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = new_consumer(tmp_path)
    fetched_batch(consumer, monkeypatch, 10, 11, 12, 13, 14)
    consumer._read_offset = {}  # faust's own mapping
    consumer.resume_flow()
    assert await handed_out_seeking_after_the_second(consumer, faust_alone=True) == [
        10,
        11,
        12,
        13,
        14,
    ]
    assert consumer._read_offset[PARTITION] == 14  # 10..13 fetched again are dropped as read


class AiokafkaInThread:
    """The consumer thread's aiokafka consumer, as far as the repair reads and seeks it."""

    def __init__(self, position: int) -> None:
        from aiokafka.consumer.subscription_state import (  # noqa: PLC0415 - only this fake
            TopicPartitionState,
        )

        self.state = TopicPartitionState(assignment=None)
        self.state.seek(position)
        self._fetcher = SimpleNamespace(
            _subscriptions=SimpleNamespace(_assigned_state=lambda tp: self.state),
            _records={PARTITION: object()},
        )
        self.calls_in_thread = 0

    def seek(self, tp: TP, offset: int) -> None:
        self.state.seek(offset)
        del self._fetcher._records[tp]


async def test_the_repair_seeks_to_the_committed_offset_in_the_consumer_thread(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka's position belongs to the consumer thread, which changes it as it hands out a
    batch; a seek from the event loop's thread can be overwritten by that. The repair goes
    through the thread's method queue, and says what it found."""
    inner = AiokafkaInThread(position=3907)

    async def call_thread(fun: Any, *args: Any) -> Any:
        inner.calls_in_thread += 1
        return await fun(*args)

    monkeypatch.setattr(
        consumer,
        "_thread",
        SimpleNamespace(call_thread=call_thread, _ensure_consumer=lambda: inner),
    )
    monkeypatch.setattr(consumer, "assignment", lambda: {PARTITION})
    consumer._committed_offset[PARTITION] = 3786
    consumer._read_offset.update({PARTITION: 3475})
    described = await consumer.reread_from_committed(PARTITION)
    assert inner.calls_in_thread == 1
    assert inner.state.position == 3786
    assert PARTITION not in inner._fetcher._records  # the stale batch is dropped
    assert consumer._read_offset[PARTITION] == 3786
    assert described is not None
    assert "read 3475, committed 3786" in described
    assert "aiokafka at 3907 (consuming, not paused, a fetched batch waiting)" in described


async def test_the_repair_leaves_a_partition_with_nothing_committed(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer, "assignment", lambda: {PARTITION})
    assert await consumer.reread_from_committed(PARTITION) is None


async def test_the_repair_names_where_the_fetch_loop_waits() -> None:
    from pipeline.runtime.faust_fixes import fetch_loop_position  # noqa: PLC0415 - only this test

    async def waiting_for_records() -> None:
        await asyncio.sleep(30)

    async def _drain_messages() -> None:  # named as faust's fetch loop
        await waiting_for_records()

    assert fetch_loop_position() == "not running"
    loop = asyncio.ensure_future(_drain_messages())
    await asyncio.sleep(0)
    try:
        where = fetch_loop_position()
    finally:
        loop.cancel()
    assert where.startswith("_drain_messages:")
    assert " > waiting_for_records:" in where


def queued(app: Any, *offsets: int) -> Any:
    """An agent's channel on PARTITION's topic holding records at `offsets`, not yet taken."""
    from faust.events import Event  # noqa: PLC0415 - only these tests build events

    channel = app.topic(PARTITION.topic)
    for offset in offsets:
        channel.queue.put_nowait(Event(app, b"k", b"v", {}, message(offset)))
    return channel


def watch_seeks(consumer: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[TP, int]]:
    sought: list[tuple[TP, int]] = []
    monkeypatch.setattr(consumer, "_seek_now", lambda tp, offset: sought.append((tp, offset)))
    monkeypatch.setattr(consumer, "assignment", lambda: {PARTITION})
    return sought


def test_records_cleared_from_the_channels_are_read_again(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After table recovery faust resumes the flow once more, which clears every channel: the
    records handed out meanwhile (214..216) would be gone with their read offsets recorded."""
    sought = watch_seeks(consumer, monkeypatch)
    channel = queued(consumer.app, 214, 215, 216)
    consumer._read_offset[PARTITION] = 216
    consumer.app.flow_control.resume()
    assert channel.queue.empty()
    assert sought == [(PARTITION, 214)]
    assert consumer._read_offset[PARTITION] == 214


def test_faust_alone_clears_them_and_reads_on_after_them(tmp_path: Path) -> None:
    from mode.utils.queues import FlowControlEvent  # noqa: PLC0415 - faust's own flow control

    consumer = new_consumer(tmp_path)
    plain = FlowControlEvent()
    queue = queued(consumer.app, 214, 215, 216).queue
    plain.manage_queue(queue)
    consumer._read_offset[PARTITION] = 216
    plain.resume()
    assert queue.empty()
    assert consumer._read_offset[PARTITION] == 216  # 214..216 fetched again would be dropped


@pytest.mark.parametrize(
    ("read", "assigned"), [(213, True), (216, False)], ids=["not-read-yet", "revoked"]
)
def test_cleared_records_ahead_of_the_read_offset_or_revoked_seek_nothing(
    consumer: Any, monkeypatch: pytest.MonkeyPatch, read: int, assigned: bool
) -> None:
    sought = watch_seeks(consumer, monkeypatch)
    if not assigned:
        monkeypatch.setattr(consumer, "assignment", set)
    queued(consumer.app, 214, 215, 216)
    consumer._read_offset.update({PARTITION: read})  # e.g. sought back to the committed offset
    consumer.app.flow_control.resume()
    assert sought == []
    assert consumer._read_offset[PARTITION] == read


# pipeline.runtime.faust_hot_path: the same behaviour at less CPU per record.


async def hand_over(
    consumer: Any, callback: Any, *, faust_alone: bool = False
) -> tuple[Any, asyncio.Task[Any] | None]:
    """What `_drain_messages` does with one record; the task the callback ran in."""
    ran_in: list[asyncio.Task[Any] | None] = []

    async def on_message() -> Any:
        ran_in.append(asyncio.current_task())
        return await callback()

    wait_first = faust_aiokafka.Consumer.wait_first if faust_alone else type(consumer).wait_first
    result = await wait_first(consumer, on_message(), consumer.suspend_flow.wait())
    return result, (ran_in or [None])[0]


async def returns_at_once() -> str:
    return "handed"


async def test_a_hand_over_that_does_not_wait_runs_in_place(tmp_path: Path) -> None:
    consumer = new_consumer(tmp_path)  # on the test's loop, as every test handing over here
    result, ran_in = await hand_over(consumer, returns_at_once)
    assert ran_in is asyncio.current_task()  # no task of its own, no asyncio.wait
    assert (result.done[0].cr_frame, result.results, result.stopped) == (None, ["handed"], False)


async def test_faust_alone_runs_every_hand_over_in_a_task_of_its_own(tmp_path: Path) -> None:
    consumer = new_consumer(tmp_path)
    result, ran_in = await hand_over(consumer, returns_at_once, faust_alone=True)
    assert ran_in is not asyncio.current_task()
    assert (result.results, result.stopped) == (["handed"], False)


async def test_a_hand_over_that_waits_finishes_as_under_faust(tmp_path: Path) -> None:
    consumer = new_consumer(tmp_path)
    room = asyncio.Event()

    async def waits_for_room() -> str:
        await room.wait()  # a full channel
        await asyncio.sleep(0)
        return "handed late"

    handing = asyncio.ensure_future(hand_over(consumer, waits_for_room))
    await asyncio.sleep(0.01)
    assert not handing.done()
    room.set()
    result, _ = await asyncio.wait_for(handing, 1.0)
    assert result.results[0] == "handed late"


@pytest.mark.parametrize("faust_alone", [False, True], ids=["fixed", "faust-alone"])
async def test_a_suspension_gives_up_a_waiting_hand_over(
    tmp_path: Path, *, faust_alone: bool
) -> None:
    consumer = new_consumer(tmp_path)
    cancelled = asyncio.Event()

    async def blocked() -> None:
        try:
            await asyncio.Event().wait()  # a full channel that never drains
        except asyncio.CancelledError:
            cancelled.set()
            raise

    handing = asyncio.ensure_future(hand_over(consumer, blocked, faust_alone=faust_alone))
    await asyncio.sleep(0.01)
    consumer.stop_flow()  # a rebalance
    result, _ = await asyncio.wait_for(handing, 1.0)
    assert result.results == [True]  # the suspension won; the record was not handed over
    await asyncio.wait_for(cancelled.wait(), 1.0)


async def test_a_suspended_flow_hands_over_as_faust_does(tmp_path: Path) -> None:
    consumer = new_consumer(tmp_path)
    consumer.stop_flow()
    result, ran_in = await hand_over(consumer, returns_at_once)
    assert ran_in is not asyncio.current_task()  # faust's own path, whatever it decides
    assert result.stopped is False


def test_the_app_uses_the_quiet_monitor(consumer: Any) -> None:
    assert isinstance(consumer.app.monitor, QuietMonitor)


@pytest.mark.parametrize("faust_alone", [False, True], ids=["fixed", "faust-alone"])
def test_the_monitor_keeps_no_statistics_per_record(*, faust_alone: bool) -> None:
    monitor = Monitor() if faust_alone else QuietMonitor()
    m = message(7)
    stream = Mock(task_owner=Mock())
    monitor.on_message_in(PARTITION, 7, m)
    state = monitor.on_stream_event_in(PARTITION, 7, stream, Mock())
    monitor.on_stream_event_out(PARTITION, 7, stream, Mock(), state)
    monitor.on_message_out(PARTITION, 7, m)
    monitor.on_send_initiated(Mock(), PARTITION.topic, Mock(), 1, 1)
    kept = (monitor.messages_received_total, monitor.events_total, monitor.messages_sent)
    assert kept == ((1, 1, 1) if faust_alone else (0, 0, 0))
    # faust's slow-processing warnings read when a stream last took a record: kept by both
    assert PARTITION in monitor.stream_inbound_time


class SourceEvent:
    """What a table write reads of faust's current event: the record's topic and partition."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = SimpleNamespace(topic=topic, partition=partition)


def delivered_table(directory: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, RecordProducer]:
    """The worker's `delivered` table (its app not started), its producer a `Producer`."""
    settings = load_settings(data_dir=directory, app_id="faust-fixes-test")
    app = create_app(settings)
    table = declare_tables(app, settings).delivered
    table._verified_source_topics_for_partitions.add("deliveries")  # no broker to ask
    producer = RecordProducer()
    monkeypatch.setattr(app.producer, "_producer", producer)  # the aiokafka producer under faust's
    return table, producer


async def test_a_table_write_goes_to_the_producer_without_faust_s_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, producer = delivered_table(tmp_path, monkeypatch)
    with as_current(SourceEvent("deliveries", 2)):  # type: ignore[arg-type] - what is read
        table.add("msg_1")
        table.add("msg_2")
    assert table.app.producer.buffer.size == 0  # the conductor never waits for it to ebb
    await table.changelog_sent()
    bucket = str(table.store.bucket()).encode()
    topic = table.changelog_topic_name
    assert producer.sent == [(topic, b'"msg_1"', bucket, 2), (topic, b'"msg_2"', bucket, 2)]
    assert table.store.persisted_offset(TP(topic, 2)) is None  # nothing acknowledged yet
    producer.acks[0].set_result(SimpleNamespace(topic=topic, partition=2, offset=40))
    await asyncio.sleep(0)
    assert table.store.persisted_offset(TP(topic, 2)) is None  # the partition's latest stands
    producer.acks[1].set_result(SimpleNamespace(topic=topic, partition=2, offset=41))
    await asyncio.sleep(0)
    # as faust's `_on_changelog_sent` leaves it after the last record's ack
    assert table.store.persisted_offset(TP(topic, 2)) == 41


async def test_changelog_acked_returns_only_once_kafka_acknowledged_every_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an ordered lane waits for before the next task of its subject is sent."""
    table, producer = delivered_table(tmp_path, monkeypatch)
    with as_current(SourceEvent("deliveries", 1)):  # type: ignore[arg-type]
        table.add("msg_1")
    waiting = asyncio.ensure_future(table.changelog_acked())
    await asyncio.sleep(0.01)
    assert len(producer.sent) == 1
    assert not waiting.done()
    topic = table.changelog_topic_name
    producer.acks[0].set_result(SimpleNamespace(topic=topic, partition=1, offset=7))
    await asyncio.wait_for(waiting, 1)
    await asyncio.wait_for(table.changelog_acked(), 1)  # nothing left to wait for


async def test_faust_alone_queues_each_table_write_in_its_producer_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, producer = delivered_table(tmp_path, monkeypatch)
    with as_current(SourceEvent("deliveries", 2)):  # type: ignore[arg-type]
        faust.Table.on_key_set(table, "msg_1", table.store.bucket())
    assert table.app.producer.buffer.size == 1  # sent later by the buffer's task, one by one
    assert producer.sent == []


async def test_a_write_the_producer_refused_is_sent_again_by_the_next_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, producer = delivered_table(tmp_path, monkeypatch)
    working = producer.send

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise KafkaTimeoutError

    monkeypatch.setattr(producer, "send", broken)
    with as_current(SourceEvent("deliveries", 0)):  # type: ignore[arg-type]
        table.add("msg_1")
    with pytest.raises(KafkaTimeoutError):
        await table.changelog_sent()
    monkeypatch.setattr(producer, "send", working)
    await table.changelog_sent()
    assert [key for _, key, _, _ in producer.sent] == [b'"msg_1"']


async def test_a_write_handed_over_before_a_failed_send_is_still_awaited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`changelog_acked` waits for every record the producer has, also when a later send of the
    same burst failed."""
    table, producer = delivered_table(tmp_path, monkeypatch)
    working = producer.send

    async def first_only(*args: Any, **kwargs: Any) -> Any:
        if producer.sent:
            raise KafkaTimeoutError
        return await working(*args, **kwargs)

    monkeypatch.setattr(producer, "send", first_only)
    with as_current(SourceEvent("deliveries", 0)):  # type: ignore[arg-type]
        table.add("msg_1")
    with as_current(SourceEvent("deliveries", 1)):  # type: ignore[arg-type]
        table.add("msg_2")
    with pytest.raises(KafkaTimeoutError):
        await table.changelog_sent()
    waiting = asyncio.ensure_future(asyncio.gather(*table._unacked))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # msg_1's ack is awaited
    producer.acks[0].set_result(SimpleNamespace(partition=0, offset=3))
    await asyncio.wait_for(waiting, 1)


def test_the_member_id_is_aiokafkas_coordinators_or_none(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert consumer.member_id() is None  # the consumer thread has no aiokafka consumer yet
    coordinator = SimpleNamespace(member_id="")  # aiokafka's "unknown member": not joined
    monkeypatch.setattr(consumer, "_thread", SimpleNamespace(_consumer=SimpleNamespace()))
    consumer._thread._consumer._coordinator = coordinator
    assert consumer.member_id() is None
    coordinator.member_id = "pipeline-worker-1b2c"
    assert consumer.member_id() == "pipeline-worker-1b2c"


async def test_a_jump_from_a_read_offset_behind_the_commit_reads_nothing_again(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen in a soak: the read offset at 9, the commit at 15, and 15 the next record."""
    sought = seeks(consumer, monkeypatch)
    consumer._committed_offset[PARTITION] = 15
    await consumer._add_gap(PARTITION, 10, 15)
    assert (sought, bool(consumer._gap[PARTITION])) == ([], False)
