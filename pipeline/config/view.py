"""A compacted topic (`config.*`) materialized in memory: the latest value per key.

Every process that needs configuration reads the whole topic at start and follows it afterwards,
so a change made through any ingress reaches every process without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from pipeline.config.follower import TopicFollower

log = logging.getLogger(__name__)
T = TypeVar("T")


class CompactedView(Generic[T]):
    """Latest value per key of one topic; a tombstone (null value) removes the key."""

    def __init__(self, bootstrap: str, topic: str, decode: Callable[[bytes], T]) -> None:
        self._decode = decode
        self._values: dict[str, tuple[int, T]] = {}
        self._tombstones: dict[str, int] = {}
        self._follower = TopicFollower(bootstrap, topic, self._consume)

    @property
    def caught_up(self) -> asyncio.Event:
        return self._follower.caught_up

    def start(self) -> None:
        self._follower.start()

    async def synced(self) -> None:
        """Return once every record written to the topic before this call is in the view."""
        await self._follower.synced()

    async def stop(self) -> None:
        await self._follower.stop()

    def get(self, key: str) -> T | None:
        found = self._values.get(key)
        return found[1] if found else None

    def items(self) -> list[tuple[str, T]]:
        return [(key, value) for key, (_, value) in self._values.items()]

    def values(self) -> Iterator[T]:
        return (value for _, value in self._values.values())

    def apply(self, key: str, value: T | None, offset: int) -> None:
        """Record a write; an older offset for the key (a stale replay) is ignored."""
        current = self._values.get(key, (self._tombstones.get(key, -1), None))[0]
        if offset < current:
            return
        if value is None:
            self._values.pop(key, None)
            self._tombstones[key] = offset
        else:
            self._tombstones.pop(key, None)
            self._values[key] = (offset, value)

    def _consume(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if key is None:
            return
        try:
            decoded = None if value is None else self._decode(value)
        except (ValueError, TypeError):
            log.exception(
                "skipping unreadable %s record at offset %d", self._follower.topic, offset
            )
            return
        self.apply(key.decode(), decoded, offset)
