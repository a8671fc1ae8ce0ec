"""pipeline.delivery.gates: a fast subscriber at its limit waits for a slot; a slow one defers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pipeline.delivery.gates import PATIENCE_SECONDS, SLOW_SECONDS, SubscriberGates


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


async def test_below_the_limit_a_slot_is_taken_at_once() -> None:
    gates = SubscriberGates(limit=2)
    assert await gates.acquire("s") is not None
    assert await gates.acquire("s") is not None
    assert gates.in_flight("s") == 2


async def test_a_fast_subscriber_at_its_limit_gets_the_next_free_slot() -> None:
    gates = SubscriberGates(limit=1)
    first = await gates.acquire("s")
    assert first is not None
    waiting = asyncio.ensure_future(gates.acquire("s"))
    await asyncio.sleep(0)
    assert not waiting.done()
    gates.release("s", first)
    assert await asyncio.wait_for(waiting, 1) is not None


async def test_a_hung_subscriber_at_its_limit_is_deferred_at_once() -> None:
    clock = Clock()
    gates = SubscriberGates(limit=1, clock=clock)
    assert await gates.acquire("hung") is not None
    clock.now += SLOW_SECONDS  # its request has been running this long
    assert await gates.acquire("hung") is None


async def test_a_subscriber_that_answers_slowly_is_deferred_at_once() -> None:
    clock = Clock()
    gates = SubscriberGates(limit=1, clock=clock)
    for _ in range(20):
        started = await gates.acquire("slow")
        assert started is not None
        clock.now += 2 * SLOW_SECONDS
        gates.release("slow", started)
    assert await gates.acquire("slow") is not None
    assert await gates.acquire("slow") is None


async def test_waiting_for_a_slot_gives_up_after_the_patience() -> None:
    gates = SubscriberGates(limit=1)
    assert await gates.acquire("s") is not None
    started = asyncio.get_running_loop().time()
    assert await gates.acquire("s") is None  # nobody releases
    assert asyncio.get_running_loop().time() - started >= PATIENCE_SECONDS * 0.9


async def test_subscribers_do_not_share_slots() -> None:
    gates = SubscriberGates(limit=1)
    assert await gates.acquire("a") is not None
    assert await gates.acquire("b") is not None


async def test_a_freed_slot_goes_to_the_first_waiter_only() -> None:
    """One wake-up per freed slot, in arrival order (waking every waiter to compete for it cost a
    timer and a task switch per waiter per delivery)."""
    gates = SubscriberGates(limit=1)
    first = await gates.acquire("s")
    assert first is not None
    waiters = [asyncio.ensure_future(gates.acquire("s")) for _ in range(5)]
    await asyncio.sleep(0)
    gates.release("s", first)
    await asyncio.sleep(0)
    assert [w.done() for w in waiters] == [True, False, False, False, False]
    assert gates.in_flight("s") == 1
    gates.release("s", waiters[0].result())
    await asyncio.sleep(0)
    assert [w.done() for w in waiters] == [True, True, False, False, False]
    for waiter in waiters[2:]:
        waiter.cancel()
    await asyncio.gather(*waiters[2:], return_exceptions=True)


async def test_a_slot_handed_to_a_cancelled_waiter_is_not_lost() -> None:
    gates = SubscriberGates(limit=1)
    first = await gates.acquire("s")
    assert first is not None
    waiter = asyncio.ensure_future(gates.acquire("s"))
    await asyncio.sleep(0)
    gates.release("s", first)  # handed to the waiter, which is cancelled before it runs
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert gates.in_flight("s") == 0
    assert await gates.acquire("s") is not None
