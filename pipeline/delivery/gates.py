"""Per-subscription limits on requests in flight: wait for a fast subscriber, defer a slow one.

A subscriber holding its limit (`PIPELINE_DELIVERY_CONCURRENCY_PER_SUBSCRIPTION`) of requests gets
further tasks only as its requests finish. When it answers quickly (its oldest request in flight
began less than `SLOW_SECONDS` ago, and its recent answers took less than that on average) a slot
frees within milliseconds, so the task waits for one, at most `PATIENCE_SECONDS`. When it is slow
or hung the task is deferred to the first retry tier at once, so it ties up none of the shared
delivery slots and the other subscribers' deliveries go on.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

SLOW_SECONDS = 1.0
PATIENCE_SECONDS = 1.0
SMOOTHING = 0.2  # weight of the newest answer time in the running average


@dataclass
class _Gate:
    started: list[float] = field(default_factory=list)  # start times of requests in flight
    average: float = 0.0  # of recent answer times, seconds
    freed: asyncio.Event = field(default_factory=asyncio.Event)


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

    async def acquire(self, subscription: str) -> float | None:
        """A slot (its start time, for `release`), or None: defer the task."""
        gate = self._gates[subscription]
        deadline = self._clock() + PATIENCE_SECONDS
        while len(gate.started) >= self.limit:
            remaining = deadline - self._clock()
            if remaining <= 0 or self.slow(subscription):
                return None
            gate.freed.clear()
            try:
                await asyncio.wait_for(gate.freed.wait(), remaining)
            except TimeoutError:
                return None
        started = self._clock()
        gate.started.append(started)
        return started

    def release(self, subscription: str, started: float) -> None:
        gate = self._gates[subscription]
        gate.started.remove(started)
        took = self._clock() - started
        gate.average = (1 - SMOOTHING) * gate.average + SMOOTHING * took
        gate.freed.set()
