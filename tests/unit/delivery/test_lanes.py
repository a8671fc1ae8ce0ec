"""Lanes: one subject's tasks one after the other, everything else side by side, all bounded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pipeline.delivery.lanes import Lanes


@dataclass
class Script:
    """Jobs are names; `gates[name]` (if set) holds that job until the test opens it."""

    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    behind: list[tuple[str, str]] = field(default_factory=list)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    dead: set[str] = field(default_factory=set)

    def hold(self, *names: str) -> None:
        for name in names:
            self.gates[name] = asyncio.Event()

    async def run(self, name: str) -> bool:
        self.started.append(name)
        if name in self.gates:
            await self.gates[name].wait()
        self.ended.append(name)
        return name not in self.dead

    async def follow(self, name: str, head: str) -> None:
        self.behind.append((name, head))


def lanes(script: Script, concurrency: int = 8, held_limit: int = 100) -> Lanes[str]:
    return Lanes(
        script.run,
        script.follow,
        slots=asyncio.Semaphore(concurrency),
        held_limit=held_limit,
    )


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_lanes_tasks_run_one_after_the_other_in_their_order() -> None:
    script = Script()
    script.hold("a1")
    running = lanes(script)
    for name in ("a1", "a2", "a3"):
        await running.submit(name, ("sub", "a"))
    await settle()
    assert script.started == ["a1"]  # a2 waits for a1 to end
    script.gates["a1"].set()
    await settle()
    assert script.ended == ["a1", "a2", "a3"]
    assert running.held == 0


async def test_a_held_lane_holds_back_neither_other_subjects_nor_unordered_tasks() -> None:
    script = Script()
    script.hold("a1")
    running = lanes(script)
    await running.submit("a1", ("sub", "a"))
    await running.submit("a2", ("sub", "a"))
    await running.submit("b1", ("sub", "b"))
    await asyncio.wait_for(running.submit("free", None), 1)
    await settle()
    assert sorted(script.ended) == ["b1", "free"]
    assert running.held == 2
    script.gates["a1"].set()
    await settle()
    assert script.ended[-2:] == ["a1", "a2"]


async def test_a_dead_head_takes_the_tasks_then_waiting_behind_it_and_later_ones_proceed() -> None:
    script = Script(dead={"a1"})
    script.hold("a1")
    running = lanes(script)
    for name in ("a1", "a2", "a3"):
        await running.submit(name, ("sub", "a"))
    await settle()
    script.gates["a1"].set()
    await settle()
    assert script.behind == [("a2", "a1"), ("a3", "a1")]
    assert script.ended == ["a1"]
    await running.submit("a4", ("sub", "a"))
    await settle()
    assert script.ended == ["a1", "a4"]
    assert running.held == 0


async def test_an_unordered_task_runs_in_its_reader_holding_a_slot() -> None:
    script = Script()
    script.hold("x1", "x2")
    running = lanes(script, concurrency=2)
    first = asyncio.ensure_future(running.submit("x1", None))
    second = asyncio.ensure_future(running.submit("x2", None))
    third = asyncio.ensure_future(running.submit("x3", None))
    await settle()
    assert not first.done()  # the reader is busy with its task until the task ends
    assert script.started == ["x1", "x2"]  # x3 waits for a slot
    script.gates["x1"].set()
    await asyncio.wait_for(asyncio.gather(first, third), 1)
    assert script.ended == ["x1", "x3"]
    assert not second.done()
    script.gates["x2"].set()
    await asyncio.wait_for(second, 1)


async def test_held_tasks_are_bounded_the_reader_waits_past_the_limit() -> None:
    script = Script()
    script.hold("a1")
    running = lanes(script, held_limit=2)
    await running.submit("a1", ("sub", "a"))
    await running.submit("a2", ("sub", "a"))
    third = asyncio.ensure_future(running.submit("b1", ("sub", "b")))
    await settle()
    assert not third.done()
    script.gates["a1"].set()
    await asyncio.wait_for(third, 1)
    await settle()
    assert script.ended == ["a1", "a2", "b1"]


async def test_close_cancels_what_runs_in_lanes_and_nothing_ends() -> None:
    script = Script()
    script.hold("a1")
    running = lanes(script)
    await running.submit("a1", ("sub", "a"))
    await running.submit("a2", ("sub", "a"))
    await settle()
    await running.close()
    assert script.ended == []
    assert running.held == 0


async def test_readers_sharing_the_lanes_keep_each_subjects_order_past_the_limits() -> None:
    # As TierLanes' actors: each takes the next record (after one pass of the loop, as faust's
    # stream does) and submits it; the held limit and the slots make readers wait mid-stream.
    script = Script()
    script.hold("x0")  # an unordered task holding its slot until late
    running = lanes(script, concurrency=2, held_limit=3)
    records: asyncio.Queue[tuple[str, tuple[str, str] | None]] = asyncio.Queue()
    for n in range(30):
        subject = "abc"[n % 3]
        records.put_nowait((f"{subject}{n:02d}", ("sub", subject)))
        if n % 4 == 0:
            records.put_nowait((f"x{n}", None))

    async def reader() -> None:
        while True:
            await asyncio.sleep(0)
            try:
                name, lane = records.get_nowait()
            except asyncio.QueueEmpty:
                return
            await running.submit(name, lane)

    readers = [asyncio.ensure_future(reader()) for _ in range(5)]
    await settle()
    script.gates["x0"].set()
    await asyncio.wait_for(asyncio.gather(*readers), 1)
    for _ in range(10):
        await settle()
    for subject in "abc":
        ran = [name for name in script.ended if name[0] == subject]
        assert ran == sorted(ran)
        assert len(ran) == 10
    assert running.held == 0
