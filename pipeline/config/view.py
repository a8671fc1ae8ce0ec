"""A compacted topic (`config.*`) materialized in memory: the latest value per key.

Every process that needs configuration reads the whole topic at start and follows it afterwards,
so a change made through any ingress reaches every process without a restart.

A record the process cannot read (a seal its key ring does not open, a shape it cannot decode) is
never taken for a deleted one: the key is held as `Unreadable`, `get` raises
`UnreadableRecordError` for it, and only a later readable write or a tombstone settles it.
Each caller decides what waiting means for it (docs/explanation/guarantees.md); the count is
exported as `pipeline_config_unreadable_records`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pipeline import metrics
from pipeline.config.follower import TopicFollower
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Unreadable:
    """The newest record of a key, which this process could not read."""

    topic: str
    key: str
    offset: int
    reason: str  # the decoder's message: never a secret (sealing and msgspec name fields only)
    key_id: str | None = None  # the key a sealed value names, when the seal is what failed

    def describe(self) -> str:
        return f"{self.topic}/{self.key} (offset {self.offset}): {self.reason}"


class UnreadableRecordError(PipelineError):
    """The key's newest record cannot be read here: it exists, and it is not deleted."""

    retriable = True  # a restart with the right key ring, or a rewrite of the record, fixes it
    code = "config_unreadable"

    def __init__(self, unreadable: Unreadable) -> None:
        super().__init__(unreadable.describe())
        self.unreadable = unreadable


class CompactedView(Generic[T]):
    """Latest value per key of one topic; a tombstone (null value) removes the key."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        decode: Callable[[bytes], T],
        on_unreadable: Callable[[Unreadable], None] | None = None,
    ) -> None:
        self._decode = decode
        self._on_unreadable = on_unreadable
        self._values: dict[str, tuple[int, T]] = {}
        self._unreadable: dict[str, Unreadable] = {}
        self._tombstones: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._follower = TopicFollower(bootstrap, topic, self._consume)
        self._gauge = metrics.CONFIG_UNREADABLE.labels(topic)

    @property
    def topic(self) -> str:
        return self._follower.topic

    @property
    def caught_up(self) -> asyncio.Event:
        return self._follower.caught_up

    def start(self) -> None:
        self._follower.start()

    async def synced(self) -> None:
        """Return once every record written to the topic before this call is in the view."""
        await self._follower.synced()

    async def synced_since(self, moment: float) -> None:
        """Return once every record Kafka acked before `moment` (`time.monotonic()`) is in the
        view; callers naming nearby moments share one request for the end offsets."""
        await self._follower.synced_since(moment)

    def assume_read(self) -> None:
        """Take the view as complete, now and at every later barrier: for a view that is never
        started, filled by `apply` instead (unit tests)."""
        self._follower.assume_read()

    def deleted(self, key: str) -> bool:
        """Whether the view read the key's tombstone (and nothing after it)."""
        return key in self._tombstones

    async def stop(self) -> None:
        await self._follower.stop()

    def get(self, key: str) -> T | None:
        """The key's value, None if it has none (never written, or deleted).

        Raises `UnreadableRecordError` when its newest record could not be read."""
        found = self.lookup(key)
        if isinstance(found, Unreadable):
            raise UnreadableRecordError(found)
        return found

    def lookup(self, key: str) -> T | Unreadable | None:
        """The key's value, its `Unreadable` newest record, or None (never written, or deleted)."""
        found = self._values.get(key)
        if found is not None:
            return found[1]
        return self._unreadable.get(key)

    def holds(self, key: str) -> bool:
        """Whether the key exists, readable or not."""
        return key in self._values or key in self._unreadable

    @property
    def unreadable(self) -> Mapping[str, Unreadable]:
        return self._unreadable

    def items(self) -> list[tuple[str, T]]:
        """The readable keys and values (see `unreadable` for the others)."""
        return [(key, value) for key, (_, value) in self._values.items()]

    def values(self) -> Iterator[T]:
        """The readable values (see `unreadable` for the others)."""
        return (value for _, value in self._values.values())

    async def changed(self) -> None:
        """Return at the next record applied to the view."""
        await self._changed.wait()

    def apply(self, key: str, value: T | None, offset: int) -> None:
        """Record a write; an older offset for the key (a stale replay) is ignored."""
        if offset < self._offset(key):
            return
        self._unreadable.pop(key, None)
        if value is None:
            self._values.pop(key, None)
            self._tombstones[key] = offset
        else:
            self._tombstones.pop(key, None)
            self._values[key] = (offset, value)
        self._updated()

    def _offset(self, key: str) -> int:
        if (value := self._values.get(key)) is not None:
            return value[0]
        if (unreadable := self._unreadable.get(key)) is not None:
            return unreadable.offset
        return self._tombstones.get(key, -1)

    def _hold_unreadable(self, unreadable: Unreadable) -> None:
        if unreadable.offset < self._offset(unreadable.key):
            return
        self._values.pop(unreadable.key, None)
        self._tombstones.pop(unreadable.key, None)
        self._unreadable[unreadable.key] = unreadable
        log.error(
            "cannot read %s; whatever depends on it waits until it is rewritten or deleted%s",
            unreadable.describe(),
            f" (key id {unreadable.key_id!r})" if unreadable.key_id else "",
        )
        self._updated()
        if self._on_unreadable is not None:
            self._on_unreadable(unreadable)

    def _updated(self) -> None:
        self._gauge.set(len(self._unreadable))
        self._changed.set()
        self._changed = asyncio.Event()

    def _consume(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if key is None:
            return
        try:
            decoded = None if value is None else self._decode(value)
        except (ValueError, TypeError) as exc:
            self._hold_unreadable(
                Unreadable(
                    self.topic,
                    key.decode(errors="replace"),
                    offset,
                    str(exc) or type(exc).__name__,
                    getattr(exc, "key_id", None),
                )
            )
            return
        self.apply(key.decode(), decoded, offset)


def unreadable_summary(views: Iterable[CompactedView[Any]]) -> str | None:
    """Why these views keep a process from being ready, or None: e.g. `config.subscriptions:
    1 record cannot be read (sub_1)`."""
    parts = []
    for view in views:
        if keys := sorted(view.unreadable):
            shown = ", ".join(keys[:5]) + (" …" if len(keys) > 5 else "")
            parts.append(f"{view.topic}: {len(keys)} record(s) cannot be read ({shown})")
    return "; ".join(parts) or None
