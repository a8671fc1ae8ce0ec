"""Every override of faust-streaming 0.15.3 that the pipeline relies on, in one place.

`PipelineApp` (built by `pipeline.app.create_app`) is the only way they are registered: it hands
faust a transport whose consumer carries the fixes below. Each fix names the upstream issue and
has a test in tests/unit/test_faust_fixes.py that fails on faust's own code.

- Commits never pass a message still in flight (faust-streaming/faust#606; the fix, PR #707, is
  unmerged). faust's `Consumer._new_offset` commits the end of the first run of acked offsets.
  With acks out of order (agent concurrency > 1) that run may start *after* a message still being
  processed: committed 10, message 10 in flight, 11 and 12 acked → faust commits 13, and with no
  committed offset yet (a new group, or offset 0, which faust stores as "none") any ack commits
  past everything in flight. A crash after such a commit loses message 10. Here the offset to
  commit is capped by the lowest offset the streams still hold un-acked on that partition.
- A message a stream skips is not counted as done. Streams skip messages fetched while flow
  control is suspended or under an older consumer generation (around rebalances and table
  recovery) and ack them "so that the lag does not grow" (`Stream.__aiter__`), which makes their
  offsets committable although no agent saw them; the seek to the committed offset that follows
  recovery then starts after them. Seen here: a worker restarted under load committed past 97
  webhooks that were never normalized. Here a skipped message holds the commit below it until it
  is read again (after that seek) and processed.
- A gap in offsets (compaction, transaction markers) is merged into the acked offsets up to and
  *including* the first message after it (`_drain_messages` passes that message's own offset as
  the gap's inclusive end), so that message counted as done before any agent saw it. Here a gap
  ends just before it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT
from faust.types.tuples import ack_lock
from faust.utils.functional import consecutive_numbers

log = logging.getLogger(__name__)


class SafeConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer whose commits stay below every message in flight or skipped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Offsets a stream skipped and acked without an agent seeing them, per partition.
        self._skipped: defaultdict[TP, set[int]] = defaultdict(set)

    def ack(self, message: Message) -> bool:
        if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
            # Only a stream that hands a message to an agent tracks it: this one was skipped.
            with ack_lock:
                if not message.acked:
                    message.acked = True
                    skipped = self._skipped[message.tp]
                    if not skipped:
                        log.info(
                            "%s[%d]: a stream skipped offset %d (rebalance or recovery); "
                            "commits stay below it until it is read again and processed",
                            message.topic,
                            message.partition,
                            message.offset,
                        )
                    skipped.add(message.offset)
            return False
        self._skipped[message.tp].discard(message.offset)
        return bool(super().ack(message))

    def lowest_in_flight(self, tp: TP) -> int | None:
        """The lowest offset on `tp` that a stream has taken and not yet acked, or skipped.

        Streams track a message when they take it from their channel, and one channel is read in
        order, so messages not yet taken all sit above every tracked or acked offset: only the
        tracked, un-acked ones can be passed by a commit.
        """
        offsets = [m.offset for m in self._unacked_messages if m.tp == tp and not m.acked]
        committed = self._committed_offset[tp] or 0
        offsets += [offset for offset in self._skipped[tp] if offset >= committed]
        return min(offsets) if offsets else None

    def _new_offset(self, tp: TP) -> int | None:
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        self._merge_gaps(tp, acked)
        acked.sort()
        batch = next(consecutive_numbers(acked))
        floor = self.lowest_in_flight(tp)
        if floor is not None and floor <= batch[-1]:
            if floor <= batch[0]:
                return None  # the head of the partition is still being processed
            batch = [offset for offset in batch if offset < floor]
        del acked[: len(batch)]
        self._acked_index[tp].difference_update(batch)
        return int(batch[-1]) + 1

    def _merge_gaps(self, tp: TP, acked: list[int]) -> None:
        """Count the offsets known not to exist (gaps) up to the highest acked one as acked."""
        gaps = self._gap[tp]
        if not gaps:
            return
        highest = max(acked)
        missing = [
            offset
            for interval in sorted(gaps.overlap(0, highest), key=lambda i: i.begin)
            for offset in range(interval.begin, interval.end)
        ]
        if missing:
            acked.extend(missing)
            gaps.chop(0, max(missing[-1], highest) + 1)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # `offset_to` is the offset of the message that revealed the gap: it exists and is about
        # to be processed, so the gap ends one before it.
        await super()._add_gap(tp, offset_from, offset_to - 1)


class PipelineTransport(faust_aiokafka.Transport):
    Consumer = SafeConsumer


class PipelineApp(faust.App):
    """The faust app with the pipeline's consumer fixes registered."""

    def _new_transport(self) -> TransportT:
        transport: Any = PipelineTransport(self.conf.broker_consumer, self)
        return transport  # type: ignore[no-any-return]  # faust's TransportT is a Protocol-like ABC
