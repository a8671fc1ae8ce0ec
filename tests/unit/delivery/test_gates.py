from __future__ import annotations

import asyncio

from pipeline.delivery.gates import SubscriberGates


async def test_a_full_subscriber_defers_after_its_patience_while_another_proceeds() -> None:
    gates = SubscriberGates(limit=2, patience=0.05)
    assert await gates.acquire("slow")
    assert await gates.acquire("slow")
    assert not await gates.acquire("slow")  # both slots held: gives up after 50 ms
    assert await gates.acquire("fast")
    gates.release("fast")
    gates.release("slow")
    assert await gates.acquire("slow")  # a freed slot is usable again


async def test_a_waiter_gets_a_slot_freed_within_its_patience() -> None:
    gates = SubscriberGates(limit=1, patience=1.0)
    assert await gates.acquire("s")
    waiting = asyncio.ensure_future(gates.acquire("s"))
    await asyncio.sleep(0)
    gates.release("s")
    assert await waiting


async def test_idle_subscribers_leave_no_state() -> None:
    gates = SubscriberGates(limit=1, patience=0.01)
    assert await gates.acquire("a")
    assert not await gates.acquire("a")
    gates.release("a")
    assert len(gates) == 0
