"""Hootsuite REST → one instance's poll cycle → `polls.raw`, then `pollers.state`.

Each cycle lists the messages in the instance's window and compares every state with the one
recorded in `pollers.state`. A changed state is written to `polls.raw` first and recorded only
after Kafka acked the snapshot: a crash in between re-reports the state (the worker's dedup drops
the repeat), while the reverse order could record a state whose event never got out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from pipeline.events.cloudevent import rfc3339
from pipeline.pollers.polling_config import PROVIDER, PollingConfig
from pipeline.pollers.state import (
    TERMINAL_STATES,
    PollerState,
    PollerStateView,
    encode_state,
    state_key,
    state_record,
)
from pipeline.pollers.writer import PollerTopics, RecordWriter
from pipeline.providers.snapshot import PollSnapshot, SnapshotOptions, encode_snapshot

log = logging.getLogger(__name__)

# Writes of different messages are independent; a bound keeps a first sync of thousands of
# messages from queueing thousands of sends at once.
WRITE_CONCURRENCY = 32
Action = Callable[[], Awaitable[int]]  # returns the number of snapshots it wrote


class MessageSource(Protocol):
    """What a cycle needs from the Hootsuite client."""

    def list_messages(
        self,
        start: datetime,
        end: datetime,
        *,
        states: Iterable[str] | None = None,
        social_profile_ids: Iterable[str | int] | None = None,
    ) -> AsyncIterator[dict[str, Any]]: ...

    async def get_message(self, message_id: str) -> dict[str, Any] | None: ...


@dataclass
class CycleReport:
    """What one cycle did, for metrics and tests."""

    listed: int = 0
    fetched: int = 0
    snapshots: int = 0
    forgotten: int = 0


def snapshot_record(
    instance_id: str, item_id: str, item: dict[str, Any] | None, now: datetime, include_raw: bool
) -> PollSnapshot:
    """A `polls.raw` value; `item` None means the message is gone."""
    return PollSnapshot(
        provider=PROVIDER,
        instance_id=instance_id,
        polled_at=rfc3339(now),
        resource="message",
        item_id=item_id,
        item=item,
        deleted=item is None,
        options=SnapshotOptions(include_raw=include_raw),
    )


def _usable(message: dict[str, Any]) -> tuple[str, str] | None:
    """The message's id and state, or None when either is missing (it cannot be tracked)."""
    item_id, state = message.get("id"), message.get("state")
    if isinstance(item_id, bool) or not isinstance(item_id, str | int) or item_id == "":
        return None
    if not isinstance(state, str) or not state:
        return None
    return str(item_id), state


class MessagePoller:
    """The poll cycle of one Hootsuite instance."""

    def __init__(
        self,
        *,
        instance_id: str,
        config: PollingConfig,
        client: MessageSource,
        writer: RecordWriter,
        state: PollerStateView,
        topics: PollerTopics,
    ) -> None:
        self._instance_id = instance_id
        self._config = config
        self._client = client
        self._writer = writer
        self._state = state
        self._topics = topics

    async def poll_once(self, now: datetime) -> CycleReport:
        """List, report changed states, then settle tracked messages the listing no longer has."""
        report = CycleReport()
        listed = await self._list(now)
        report.listed = len(listed)
        tracked = self._state.tracked(self._instance_id)
        report.snapshots += await _run(self._changes(listed, tracked, now))
        actions: list[Action] = []
        for item_id, record in tracked.items():
            if item_id in listed:
                continue
            if record.state in TERMINAL_STATES:
                # A finished message that left the window (or the filters) never changes again.
                actions.append(partial(self._forget, item_id))
                report.forgotten += 1
                continue
            report.fetched += 1
            message = await self._client.get_message(item_id)
            if message is None:
                actions.append(partial(self._report_deleted, item_id, now))
                report.forgotten += 1
            else:
                actions.extend(self._changes({item_id: message}, tracked, now))
        report.snapshots += await _run(actions)
        return report

    async def _list(self, now: datetime) -> dict[str, dict[str, Any]]:
        start, end = self._config.window(now)
        listed: dict[str, dict[str, Any]] = {}
        listing = self._client.list_messages(
            start,
            end,
            states=self._config.states or None,
            social_profile_ids=self._config.social_profile_ids or None,
        )
        async for message in listing:
            usable = _usable(message)
            if usable is None:
                log.warning(
                    "instance %s: skipping a message without id or state", self._instance_id
                )
                continue
            listed[usable[0]] = message
        return listed

    def _changes(
        self,
        messages: dict[str, dict[str, Any]],
        tracked: dict[str, PollerState],
        now: datetime,
    ) -> list[Action]:
        actions: list[Action] = []
        for item_id, message in messages.items():
            usable = _usable(message)
            recorded = tracked.get(item_id)
            if usable is not None and (recorded is None or recorded.state != usable[1]):
                actions.append(partial(self._report_state, item_id, usable[1], message, now))
        return actions

    async def _report_state(
        self, item_id: str, state: str, message: dict[str, Any], now: datetime
    ) -> int:
        await self._snapshot(item_id, message, now)
        scheduled = message.get("scheduledSendTime")
        record = state_record(
            self._instance_id,
            item_id,
            state,
            scheduled if isinstance(scheduled, str) else None,
            now,
        )
        await self._record(item_id, record)
        return 1

    async def _report_deleted(self, item_id: str, now: datetime) -> int:
        await self._snapshot(item_id, None, now)
        await self._record(item_id, None)
        return 1

    async def _forget(self, item_id: str) -> int:
        await self._record(item_id, None)
        return 0

    async def _snapshot(self, item_id: str, item: dict[str, Any] | None, now: datetime) -> None:
        value = snapshot_record(self._instance_id, item_id, item, now, self._config.include_raw)
        await self._writer.send(
            self._topics.polls_raw, self._instance_id.encode(), encode_snapshot(value)
        )

    async def _record(self, item_id: str, record: PollerState | None) -> None:
        key = state_key(self._instance_id, item_id)
        value = None if record is None else encode_state(record)
        meta = await self._writer.send(self._topics.pollers_state, key.encode(), value)
        # Read-your-writes: the next cycle must see this even before the view's consumer does.
        self._state.apply(key, record, meta.offset)


async def _run(actions: list[Action]) -> int:
    """Run `actions` a bounded batch at a time; all of a batch finish before an error is raised."""
    written = 0
    for first in range(0, len(actions), WRITE_CONCURRENCY):
        batch = actions[first : first + WRITE_CONCURRENCY]
        results = await asyncio.gather(*(action() for action in batch), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
            written += result
    return written
