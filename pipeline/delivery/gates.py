"""deliver agent: at most N requests in flight per subscription, so one slow subscriber cannot hold
the slots every other subscriber needs.

A task waits for its subscriber's slot only briefly (`patience`): a busy but healthy subscriber
frees one within milliseconds, a hanging one does not, and its task is deferred instead of holding
a slot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class _Gate:
    slots: asyncio.Semaphore
    users: int = 0


class SubscriberGates:
    def __init__(self, limit: int, patience: float) -> None:
        self._limit = limit
        self._patience = patience
        self._gates: dict[str, _Gate] = {}

    def __len__(self) -> int:
        return len(self._gates)

    async def acquire(self, key: str) -> bool:
        """True with a slot held (release it), False if none came free within `patience`."""
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(asyncio.Semaphore(self._limit))
        gate.users += 1  # waiters count too, so the gate is not dropped under them
        try:
            await asyncio.wait_for(gate.slots.acquire(), self._patience)
        except TimeoutError:
            self._leave(key, gate)
            return False
        return True

    def release(self, key: str) -> None:
        gate = self._gates[key]
        gate.slots.release()
        self._leave(key, gate)

    def _leave(self, key: str, gate: _Gate) -> None:
        gate.users -= 1
        if gate.users == 0:
            del self._gates[key]
