"""Delivery lanes: how a deliver agent runs the tasks it has taken from its topic.

A task of an ordered subscription (`ordering: "subject"`) runs in its lane, one per subscription
and event subject: the lane's tasks run one after the other, in the order they were read, each to
its end before the next starts. Any other task runs on its own, beside the others. Either way a
delivery request needs one of the tier's `concurrency` slots (`slot`), so ordered and unordered
subscriptions share the tier's requests in flight as before.

An unordered task runs in the reader that took it, to its end, holding a slot: no task of its
own, and the reader waits while the tier's slots are all busy, as faust's actors did before lanes
(a Task per delivery cost 8 % of a drain's deliveries per second). An ordered task is taken at
once, into its lane, and takes a slot only for each request: a lane
held back by a failing subject (its head retried in place, see `pipeline.agents.deliver`) holds
no slot while it waits, and the tasks read after it go on in their own lanes. Tasks held in lanes
are bounded (`held_limit`): past it the reader waits until a lane moves, and so does the tier.

A lane whose head ends dead (its retries spent) hands the tasks then waiting behind it to
`behind`, in their order (dead-lettered, saying why), so one subject is held back for at most
one retry schedule; tasks read after that proceed.

Nothing here knows about Kafka: a job's own `run` acknowledges it. `close` cancels every lane's
job still running (they are read again after a restart, their offsets never committed); an
unordered job ends with its reader.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Job = TypeVar("Job")


class Lanes(Generic[Job]):
    def __init__(
        self,
        run: Callable[[Job], Awaitable[bool]],
        behind: Callable[[Job, Job], Awaitable[None]],
        *,
        slots: asyncio.Semaphore,
        held_limit: int,
    ) -> None:
        """`run(job)`: True unless the job ended dead; `behind(job, head)`: a job that waited
        behind a dead `head`; `slots`: the tier's requests in flight."""
        self._run = run
        self._behind = behind
        self.slot = slots
        self._room = asyncio.Semaphore(held_limit)
        self._lanes: dict[Hashable, deque[Job]] = {}
        self._running: set[asyncio.Task[None]] = set()

    @property
    def held(self) -> int:
        """Tasks in lanes, including each lane's running head."""
        return sum(len(lane) for lane in self._lanes.values())

    async def submit(self, job: Job, lane: Hashable | None) -> None:
        """Run `job` here, to its end (lane None: unordered), or queue it in its lane; returns
        once it has ended or is in its lane."""
        if lane is None:
            async with self.slot:
                await self._run(job)
            return
        await self._room.acquire()
        waiting = self._lanes.get(lane)
        if waiting is not None:
            waiting.append(job)
            return
        self._lanes[lane] = deque([job])
        self._start(self._drain(lane))

    async def close(self) -> None:
        for task in self._running:
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()

    def _start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _drain(self, key: Hashable) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                head = lane[0]
                alive = await self._run(head)
                lane.popleft()
                self._room.release()
                if not alive:
                    for _ in range(len(lane)):  # those waiting now; later ones proceed
                        await self._behind(lane[0], head)
                        lane.popleft()
                        self._room.release()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]
