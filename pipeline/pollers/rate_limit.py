"""A token-bucket limiter that keeps one poller's provider requests under the provider's rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """Grants at most `rate` acquisitions per second, with bursts of up to `capacity`.

    The default capacity of one spaces requests evenly, so any one-second window holds at most
    `rate` of them; a larger capacity allows bursts that a fixed-window provider may reject.
    """

    def __init__(
        self,
        rate: float,
        *,
        capacity: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()

    async def acquire(self) -> float:
        """Wait until a request may go out; returns how long this call waited, in seconds."""
        now = self._clock()
        # A clock that steps back must not take tokens away.
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now
        # Take the token before waiting: the debt makes concurrent callers queue up behind this
        # one instead of all waking at the same moment.
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        delay = -self._tokens / self.rate
        await self._sleep(delay)
        return delay
