"""Per-subscription limits on requests in flight: wait for a fast subscriber, defer a slow one.

A subscriber holding its limit (`PIPELINE_DELIVERY_CONCURRENCY_PER_SUBSCRIPTION`) of requests gets
further tasks only as its requests finish. When it answers quickly (its oldest request in flight
began less than `SLOW_SECONDS` ago, and its recent answers took less than that on average) a slot
frees within milliseconds, so the task waits for one, at most `PATIENCE_SECONDS`. When it is slow
or hung the task is deferred to the first retry tier at once, so it ties up none of the shared
delivery slots and the other subscribers' deliveries go on. A task of an ordered lane is never
deferred (a later task of its subject would pass it): it waits for its subscriber's slot before
it takes a shared one, so it ties none up either. The limits are per worker: N workers sharing a
subscription's partitions may have N times the limit in flight to it.

Waiting tasks queue in arrival order and a finished request hands its slot to the first of them
directly: one wake-up per freed slot. (Waking every waiter to compete for it cost one timer and
one task switch per waiter per delivery: with 24 tasks waiting on one busy subscriber, about a
quarter of the worker's CPU.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

SLOW_SECONDS = 1.0
PATIENCE_SECONDS = 1.0
SMOOTHING = 0.2  # weight of the newest answer time in the running average


@dataclass
class _Gate:
    started: list[float] = field(default_factory=list)  # start times of requests in flight
    average: float = 0.0  # of recent answer times, seconds
    waiting: deque[asyncio.Future[float]] = field(default_factory=deque)


class SubscriberGates:
    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._gates: defaultdict[str, _Gate] = defaultdict(_Gate)

    def in_flight(self, subscription: str) -> int:
        gate = self._gates.get(subscription)
        return len(gate.started) if gate else 0

    def slow(self, subscription: str) -> bool:
        gate = self._gates[subscription]
        oldest = min(gate.started, default=self._clock())
        return gate.average >= SLOW_SECONDS or self._clock() - oldest >= SLOW_SECONDS

    async def acquire(self, subscription: str, *, defer: bool = True) -> float | None:
        """A slot (its start time, for `release`), or None: defer the task. With `defer=False`
        (an ordered lane, which cannot let a later task pass) it waits for a slot however long
        the subscriber takes, and never returns None."""
        gate = self._gates[subscription]
        if len(gate.started) < self.limit and not gate.waiting:
            started = self._clock()
            gate.started.append(started)
            return started
        if defer and self.slow(subscription):
            return None
        handed: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        gate.waiting.append(handed)
        try:
            async with asyncio.timeout(PATIENCE_SECONDS if defer else None):
                return await handed
        except TimeoutError:
            if handed.done() and not handed.cancelled():
                return handed.result()  # handed over just as the patience ran out: use it
            return None
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self.release(subscription, handed.result())  # handed over, never to be used
            raise
        finally:
            if not handed.done():
                handed.cancel()
            with contextlib.suppress(ValueError):
                gate.waiting.remove(handed)

    def release(self, subscription: str, started: float) -> None:
        gate = self._gates[subscription]
        gate.started.remove(started)
        took = self._clock() - started
        gate.average = (1 - SMOOTHING) * gate.average + SMOOTHING * took
        while gate.waiting:
            handed = gate.waiting.popleft()
            if not handed.done():
                now = self._clock()
                gate.started.append(now)
                handed.set_result(now)
                return
