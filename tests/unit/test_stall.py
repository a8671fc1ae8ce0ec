"""pipeline.runtime.stall: which owned partitions count as stalled, and what a stalled worker
does."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP

from pipeline import metrics
from pipeline.runtime.stall import (
    EXIT_STALLED,
    PartitionState,
    StallDetector,
    StallWatchdog,
    consumer_thread_waits,
)

RAW = TP("webhooks.raw", 0)
RETRY = TP("deliveries.retry.3", 0)


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def behind(committed: int | None = 631, read: int | None = 630, end: int = 2000) -> PartitionState:
    return PartitionState(end=end, committed=committed, read=read, head_in_flight=False)


def test_lag_without_progress_for_the_timeout_is_a_stall() -> None:
    clock = Clock()
    detector = StallDetector(timeout=60, clock=clock)
    assert detector.observe({RAW: behind()}) == []
    clock.now = 59
    assert detector.observe({RAW: behind()}) == []
    clock.now = 60
    assert detector.observe({RAW: behind()}) == [RAW]


def test_progress_restarts_the_clock() -> None:
    clock = Clock()
    detector = StallDetector(timeout=60, clock=clock)
    detector.observe({RAW: behind(committed=631)})
    clock.now = 50
    detector.observe({RAW: behind(committed=700)})
    clock.now = 100
    assert detector.observe({RAW: behind(committed=700)}) == []
    clock.now = 110
    assert detector.observe({RAW: behind(committed=700)}) == [RAW]


@pytest.mark.parametrize(
    "state",
    [
        PartitionState(end=2000, committed=2000, read=1999, head_in_flight=False),  # no lag
        PartitionState(end=2000, committed=631, read=640, head_in_flight=True),  # a task waits
    ],
    ids=["caught-up", "in-an-agents-hands"],
)
def test_no_stall_without_lag_or_while_a_message_is_processed(state: PartitionState) -> None:
    clock = Clock()
    detector = StallDetector(timeout=60, clock=clock)
    for clock.now in (0, 30, 60, 120):
        assert detector.observe({RETRY: state}) == []


def test_later_messages_processed_while_the_commit_waits_is_a_stall() -> None:
    """The read offset moves on, the committed one does not: a hole the commit waits for."""
    clock = Clock()
    detector = StallDetector(timeout=60, clock=clock)
    for step in range(7):
        clock.now = step * 10
        found = detector.observe({RAW: behind(2423, read=2737 + step * 50, end=4000)})
    assert found == [RAW]


def test_a_never_fetched_partition_stalls() -> None:
    clock = Clock()
    detector = StallDetector(timeout=10, clock=clock)
    state = behind(committed=None, read=None, end=5)
    assert state.lag == 5
    detector.observe({RAW: state})
    clock.now = 10
    assert detector.observe({RAW: state}) == [RAW]


def test_a_recovery_that_advances_is_progress_for_all() -> None:
    clock = Clock()
    detector = StallDetector(timeout=10, clock=clock)
    for step in range(5):
        clock.now = step * 9
        assert detector.observe({RAW: behind()}, recovery=(("dedup-changelog", step),)) == []
    clock.now += 10
    assert detector.observe({RAW: behind()}, recovery=(("dedup-changelog", 4),)) == [RAW]


def test_a_partition_is_due_one_repair_a_third_of_the_way_to_a_stall() -> None:
    clock = Clock()
    detector = StallDetector(timeout=60, clock=clock)
    detector.observe({RAW: behind()})
    clock.now = 19
    detector.observe({RAW: behind()})
    assert detector.due_repair() == []
    clock.now = 20
    detector.observe({RAW: behind()})
    assert detector.due_repair() == [RAW]
    clock.now = 40
    detector.observe({RAW: behind()})
    assert detector.due_repair() == []  # once per stuck offset
    clock.now = 45
    detector.observe({RAW: behind(committed=700)})  # progress
    clock.now = 65
    detector.observe({RAW: behind(committed=700)})
    assert detector.due_repair() == [RAW]  # stuck again at a new offset


def test_a_partition_in_an_agents_hands_is_never_due_a_repair() -> None:
    clock = Clock()
    detector = StallDetector(timeout=60, clock=clock)
    waiting = PartitionState(end=2000, committed=631, read=640, head_in_flight=True)
    for clock.now in (0, 30, 60):
        detector.observe({RETRY: waiting})
        assert detector.due_repair() == []


@dataclass
class Message:
    tp: TP
    acked: bool = False


@dataclass
class FakeConsumer:
    """The few attributes of faust's consumer that the watchdog reads."""

    ends: dict[TP, int]
    committed: dict[TP, int | None]
    unacked: list[Message] = field(default_factory=list)
    failure: BaseException | None = None  # what `highwaters` raises
    answered: asyncio.Event | None = None  # when given, `highwaters` waits for it
    requests: int = 0
    repaired: list[TP] = field(default_factory=list)
    repair_moves: bool = False  # whether a repair makes the partition progress
    seek_answered: asyncio.Event | None = None  # when given, the repair's seek waits for it

    async def reread_from_committed(self, tp: TP) -> str:
        self.repaired.append(tp)
        if self.seek_answered is not None:
            await self.seek_answered.wait()
        if self.repair_moves:
            self.committed[tp] = self.ends[tp]
        return "read 630, committed 631"

    def lowest_in_flight(self, tp: TP) -> int | None:
        offsets = [self.committed[tp] or 0 for m in self.unacked if m.tp == tp and not m.acked]
        return min(offsets) if offsets else None

    def assignment(self) -> set[TP]:
        return {*self.ends, TP("dedup-changelog", 0)}

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        self.requests += 1
        if self.answered is not None:
            await self.answered.wait()
        if self.failure is not None:
            raise self.failure
        return {tp: self.ends[tp] for tp in tps}

    @property
    def _committed_offset(self) -> dict[TP, int | None]:
        return self.committed

    @property
    def _read_offset(self) -> dict[TP, int]:
        return {}


@dataclass
class FakeApp:
    consumer: FakeConsumer
    in_recovery: bool = False

    @property
    def topics(self) -> Any:
        app = self

        class Topics:
            def acks_enabled_for(self, topic: str) -> bool:
                return topic in {tp.topic for tp in app.consumer.ends}

        return Topics()

    @property
    def tables(self) -> Any:
        class Tables:
            changelog_topics = frozenset({"dedup-changelog"})

        return Tables()


def watched(consumer: FakeConsumer) -> tuple[StallWatchdog, Clock, list[int]]:
    """A watchdog over `consumer` with a 60 s timeout, its clock, and the exit codes it chose."""
    clock = Clock()
    exits: list[int] = []
    return (
        StallWatchdog(FakeApp(consumer), StallDetector(60, clock), exit=exits.append),
        clock,
        exits,
    )


async def test_a_stalled_worker_fails_health_counts_it_and_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pipeline.runtime.stall.EXIT_GRACE_SECONDS", 0.0)
    consumer = FakeConsumer(ends={RAW: 2000}, committed={RAW: 631})
    watchdog, clock, exits = watched(consumer)
    before = metrics.WORKER_STALLS._value.get()
    await watchdog.check()
    clock.now = 61
    await watchdog.check()
    assert not watchdog.healthy
    assert watchdog.stalled == [RAW]
    assert exits == [EXIT_STALLED]
    assert metrics.WORKER_STALLS._value.get() == before + 1


async def test_a_repair_that_gets_the_partition_moving_ends_the_stall(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = FakeConsumer(ends={RAW: 2000}, committed={RAW: 631}, repair_moves=True)
    watchdog, clock, exits = watched(consumer)
    before = metrics.WORKER_PARTITION_REPAIRS._value.get()
    for clock.now in (0, 10, 20):
        await watchdog.check()
    assert consumer.repaired == [RAW]
    assert "reading again from the committed offset (read 630, committed 631)" in caplog.text
    assert metrics.WORKER_PARTITION_REPAIRS._value.get() == before + 1
    for clock.now in (30, 61, 120):
        await watchdog.check()
    assert (watchdog.healthy, exits, consumer.repaired) == (True, [], [RAW])


async def test_a_repair_that_does_not_help_still_ends_in_the_stall_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pipeline.runtime.stall.EXIT_GRACE_SECONDS", 0.0)
    consumer = FakeConsumer(ends={RAW: 2000}, committed={RAW: 631})
    watchdog, clock, exits = watched(consumer)
    for clock.now in (0, 20, 40, 60):
        await watchdog.check()
    assert consumer.repaired == [RAW]
    assert (watchdog.stalled, exits) == ([RAW], [EXIT_STALLED])


async def test_a_repair_held_up_in_the_consumer_thread_does_not_hold_the_checks(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """faust's consumer thread runs two calls at a time; a hung one can keep the seek waiting.
    The checks go on (the stall exit stays the backstop) and the seek completes later."""
    monkeypatch.setattr("pipeline.runtime.stall.END_OFFSETS_TIMEOUT_SECONDS", 0.01)
    monkeypatch.setattr("pipeline.runtime.stall.EXIT_GRACE_SECONDS", 0.0)
    consumer = FakeConsumer(ends={RAW: 2000}, committed={RAW: 631}, seek_answered=asyncio.Event())
    watchdog, clock, exits = watched(consumer)
    for clock.now in (0, 20, 40, 60):
        await asyncio.wait_for(watchdog.check(), timeout=1)
    assert (consumer.repaired, watchdog.stalled, exits) == ([RAW], [RAW], [EXIT_STALLED])
    caplog.set_level(logging.INFO, logger="pipeline.runtime.stall")
    consumer.seek_answered.set()
    for _ in range(3):
        await asyncio.sleep(0)  # the seek, answered, ends and says so
    assert "a late seek to the committed offset is done (read 630, committed 631)" in caplog.text


async def test_a_worker_with_a_message_in_hand_is_not_stalled() -> None:
    clock = Clock()
    exits: list[int] = []
    consumer = FakeConsumer(ends={RETRY: 10}, committed={RETRY: 4}, unacked=[Message(RETRY)])
    watchdog = StallWatchdog(FakeApp(consumer), StallDetector(60, clock), exit=exits.append)
    for clock.now in (0, 61, 200):
        await watchdog.check()
    assert watchdog.healthy
    assert exits == []


@pytest.mark.parametrize(
    "failure",
    [
        KafkaTimeoutError("Failed to get offsets by times in 90000 ms"),
        # Soak 20261207T045212Z, the broker SIGKILLed: the worker crashed on it (exit 1).
        RuntimeError(
            "unable to perform operation on <TCPTransport closed=True>; the handler is closed"
        ),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
async def test_unreadable_end_offsets_are_neither_a_crash_nor_a_stall(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    """After a broker restart aiokafka's end-offsets request failed after 90 s with the broker
    back: the exception crashed the worker (a faust timer's), which then hung in its shutdown.
    aiokafka recovers by itself after that timeout; the worker must still be there. A request
    on a connection the broker's death closed fails the same way, sooner."""
    monkeypatch.setattr("pipeline.runtime.stall.EXIT_GRACE_SECONDS", 0.0)
    clock = Clock()
    exits: list[int] = []
    consumer = FakeConsumer(ends={RAW: 2000}, committed={RAW: 631}, failure=failure)
    watchdog = StallWatchdog(FakeApp(consumer), StallDetector(60, clock), exit=exits.append)
    for clock.now in (0, 30, 61, 200):
        await watchdog.check()
    assert (watchdog.healthy, exits) == (True, [])
    consumer.failure = None  # readable again: the lag without progress counts from now
    for clock.now in (205, 266):
        await watchdog.check()
    assert (watchdog.stalled, exits) == ([RAW], [EXIT_STALLED])


async def test_a_hung_end_offsets_request_is_waited_for_not_repeated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faust runs the request on its consumer thread's two method-queue workers: one more hung
    request per check held both within seconds, and every commit and seek waited behind them
    (a soak's broker round: nothing consumed for 60 s with the broker back)."""
    monkeypatch.setattr("pipeline.runtime.stall.END_OFFSETS_TIMEOUT_SECONDS", 0.01)
    clock = Clock()
    exits: list[int] = []
    consumer = FakeConsumer(ends={RAW: 2000}, committed={RAW: 2000}, answered=asyncio.Event())
    watchdog = StallWatchdog(FakeApp(consumer), StallDetector(60, clock), exit=exits.append)
    for clock.now in (0, 5, 10, 50, 120):
        await watchdog.check()
    assert (consumer.requests, watchdog.healthy, exits) == (1, True, [])
    consumer.answered.set()
    clock.now = 125
    await watchdog.check()  # the same request, answered
    await watchdog.check()  # and a new one
    assert (consumer.requests, watchdog.healthy, exits) == (2, True, [])


@dataclass
class Group:
    """The group's committed and end offsets of the ingest topics, as `LagMonitor.positions`."""

    positions: dict[TP, tuple[int, int]]
    failure: BaseException | None = None
    asked: int = 0
    member: bool = False  # whether the coordinator lists this worker
    membership_failure: BaseException | None = None

    async def __call__(self) -> dict[TP, tuple[int, int]]:
        self.asked += 1
        if self.failure is not None:
            raise self.failure
        return dict(self.positions)

    async def in_group(self) -> bool:
        if self.membership_failure is not None:
            raise self.membership_failure
        return self.member


def unowned(group: Group) -> tuple[StallWatchdog, Clock, list[int]]:
    """A watchdog whose worker owns no source partition (a changelog only), over `group`."""
    clock = Clock()
    exits: list[int] = []
    consumer = FakeConsumer(ends={}, committed={})
    watchdog = StallWatchdog(
        FakeApp(consumer),
        StallDetector(60, clock),
        exit=exits.append,
        group_positions=group,
        in_group=group.in_group,
    )
    return watchdog, clock, exits


async def test_a_worker_owning_nothing_while_nobody_consumes_the_ingest_topics_stalls(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As seen after the broker was killed during a worker's first recovery: the worker never
    got an assignment again, and 900 webhooks waited on webhooks.raw for nobody."""
    monkeypatch.setattr("pipeline.runtime.stall.EXIT_GRACE_SECONDS", 0.0)
    group = Group({RAW: (300, 1200), TP("polls.raw", 0): (5, 5)})
    watchdog, clock, exits = unowned(group)
    for clock.now in (0, 30, 59):
        await watchdog.check()
    assert (watchdog.healthy, exits) == (True, [])
    clock.now = 60
    await watchdog.check()
    assert (watchdog.stalled, exits) == ([RAW], [EXIT_STALLED])
    assert "owns no source partition" in caplog.text
    assert "webhooks.raw[0] (lag 900, committed 300" in caplog.text


@pytest.mark.parametrize(
    "group",
    [
        Group({RAW: (300, 1200)}, member=True),  # e.g. the owner's long table recovery
        Group({RAW: (300, 1200)}, membership_failure=KafkaTimeoutError()),
    ],
    ids=["a member given nothing", "membership unreadable"],
)
async def test_a_member_the_group_gave_nothing_stays_while_the_owners_make_no_progress(
    group: Group,
) -> None:
    watchdog, clock, exits = unowned(group)
    for clock.now in (0, 60, 120, 600):
        await watchdog.check()
    assert (watchdog.healthy, exits) == (True, [])


async def test_an_idle_member_of_a_group_that_commits_stays() -> None:
    """More workers than partitions: this one owns nothing, and the others make progress."""
    group = Group({RAW: (300, 1200)})
    watchdog, clock, exits = unowned(group)
    for step in range(1, 30):
        clock.now = step * 5.0
        group.positions[RAW] = (300 + step * 10, 1200 + step * 10)
        await watchdog.check()
    assert (watchdog.healthy, exits, group.asked) == (True, [], 29)


async def test_owning_partitions_again_forgets_the_group_watch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pipeline.runtime.stall.EXIT_GRACE_SECONDS", 0.0)
    group = Group({TP("polls.raw", 0): (5, 50)})
    watchdog, clock, exits = unowned(group)
    await watchdog.check()
    clock.now = 50
    watchdog.app.consumer.ends[RAW] = 10  # assigned: webhooks.raw[0], no lag
    watchdog.app.consumer.committed[RAW] = 10
    await watchdog.check()
    del watchdog.app.consumer.ends[RAW]  # unassigned again: the watch starts over
    for clock.now in (55, 100):
        await watchdog.check()
    assert (watchdog.healthy, exits) == (True, [])
    clock.now = 115
    await watchdog.check()
    assert exits == [EXIT_STALLED]


async def test_unreadable_group_offsets_decide_nothing(caplog: pytest.LogCaptureFixture) -> None:
    group = Group({RAW: (300, 1200)}, failure=KafkaTimeoutError())
    watchdog, clock, exits = unowned(group)
    for clock.now in (0, 60, 120):
        await watchdog.check()
    assert (watchdog.healthy, exits, group.asked) == (True, [], 3)
    assert caplog.text.count("the group's offsets unreadable (KafkaTimeoutError") == 1


@pytest.mark.parametrize("kafka_answers", [True, False])
async def test_a_consumer_unanswered_for_the_timeout_while_kafka_answers_others_stalls(
    monkeypatch: pytest.MonkeyPatch, kafka_answers: bool
) -> None:
    """A soak's broker round: the consumer thread's commit and every request after it hung for
    5 minutes, the broker back after 7 s; the watchdog waited on, nothing consumed. Kafka
    answering a client of its own tells a wedged consumer from an unreachable Kafka."""
    monkeypatch.setattr("pipeline.runtime.stall.END_OFFSETS_TIMEOUT_SECONDS", 0.01)
    monkeypatch.setattr("pipeline.runtime.stall.EXIT_GRACE_SECONDS", 0.0)
    clock = Clock()
    exits: list[int] = []
    consumer = FakeConsumer(ends={RAW: 2000}, committed={RAW: 631}, answered=asyncio.Event())
    group = Group({RAW: (631, 2000)}, failure=None if kafka_answers else OSError("refused"))
    watchdog = StallWatchdog(
        FakeApp(consumer), StallDetector(60, clock), exit=exits.append, group_positions=group
    )
    for clock.now in (0, 30, 59):
        await watchdog.check()
    assert (watchdog.healthy, exits, group.asked) == (True, [], 0)
    for clock.now in (61, 90):
        await watchdog.check()
    if kafka_answers:
        assert (watchdog.stalled, exits) == ([RAW], [EXIT_STALLED])
    else:
        assert (watchdog.healthy, exits, group.asked) == (True, [], 2)


def test_a_wedged_consumer_is_logged_with_where_its_threads_tasks_wait() -> None:
    """The evidence a wedge leaves before the exit: each task on faust's consumer thread, as the
    chain of functions it waits in."""

    async def commit_offsets() -> None:
        await asyncio.Event().wait()

    async def holds_the_commit() -> None:
        await commit_offsets()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(holds_the_commit(), loop)
        consumer = SimpleNamespace(_thread=SimpleNamespace(thread_loop=loop, _thread=thread))
        deadline = time.monotonic() + 5
        while "holds_the_commit" not in (waits := consumer_thread_waits(consumer)):
            assert time.monotonic() < deadline, waits
            time.sleep(0.01)
        assert "task holds_the_commit:" in waits
        assert " > commit_offsets:" in waits
        assert "thread at " in waits  # the loop's own frame: waiting for its selector
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    assert consumer_thread_waits(SimpleNamespace()) == "(no consumer thread)"


async def test_a_wedged_consumer_is_logged_with_its_metadata_tasks_end() -> None:
    async def failing() -> None:
        raise ValueError("bad metadata")

    ended = asyncio.ensure_future(failing())
    await asyncio.gather(ended, return_exceptions=True)
    client = SimpleNamespace(_sync_task=ended)
    service = SimpleNamespace(
        thread_loop=asyncio.get_running_loop(), _consumer=SimpleNamespace(_client=client)
    )
    waits = consumer_thread_waits(SimpleNamespace(_thread=service))
    assert waits.startswith("metadata task: ended, ValueError('bad metadata')")
