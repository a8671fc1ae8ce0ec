"""`pollers.state`: the pollers' memory of the last state seen per tracked item.

poller → `polls.raw` (snapshot, acked) → `pollers.state` (this record). A restarted poller reads
the compacted topic back before polling, so it neither repeats a state it reported nor misses one.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from pipeline.config.view import CompactedView
from pipeline.contract.codec import Codec
from pipeline.events.cloudevent import rfc3339

# States a Hootsuite message never leaves; once such a message drops out of the listed window it
# is forgotten (tombstoned), which keeps the compacted topic bounded.
TERMINAL_STATES = frozenset({"SENT", "SEND_FAILED_PERMANENTLY", "REJECTED"})


class PollerState(msgspec.Struct, frozen=True, kw_only=True):
    """A `pollers.state` value (schemas/poller-state.json)."""

    instance_id: str
    item_id: str
    state: str
    seen_at: str
    scheduled_send_time: str | None = None


def state_key(instance_id: str, item_id: str) -> str:
    """`<instance id>/<item id>`; instance ids never contain `/`, so the split is unambiguous."""
    return f"{instance_id}/{item_id}"


def state_record(
    instance_id: str, item_id: str, state: str, scheduled_send_time: str | None, seen_at: datetime
) -> PollerState:
    return PollerState(
        instance_id=instance_id,
        item_id=item_id,
        state=state,
        scheduled_send_time=scheduled_send_time,
        seen_at=rfc3339(seen_at),
    )


# A stored record; a `msgspec.DecodeError` makes the view skip and log it.
STATES = Codec(PollerState)
decode_state = STATES.decode
encode_state = STATES.encode


class PollerStateView(CompactedView[PollerState]):
    """The `pollers.state` topic in memory, indexed by instance so a cycle finds its items fast."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic, decode_state)
        self._by_instance: dict[str, dict[str, PollerState]] = {}

    def apply(self, key: str, value: PollerState | None, offset: int) -> None:
        super().apply(key, value, offset)
        instance_id, _, item_id = key.partition("/")
        # The base class may have ignored a stale write, so index what it actually holds.
        current = self.get(key)
        items = self._by_instance.setdefault(instance_id, {})
        if current is None:
            items.pop(item_id, None)
            if not items:
                del self._by_instance[instance_id]
        else:
            items[item_id] = current

    def tracked(self, instance_id: str) -> dict[str, PollerState]:
        """A copy of the item id → record map of one instance."""
        return dict(self._by_instance.get(instance_id, {}))

    def instance_ids(self) -> set[str]:
        """Every instance that has at least one tracked item."""
        return set(self._by_instance)
