"""Hootsuite REST message snapshots (`polls.raw`) → post events, one per (message, state).

The event id is derived from instance, message id and state, so repeated polls of one state — or a
restarted poller re-reporting it — deduplicate to the first. The time is when the poller observed
the change: Hootsuite messages carry no `sentAt`.
"""

from __future__ import annotations

from typing import Any

from pipeline.events.cloudevent import CloudEvent, Lineage, build_event, parse_time, snake_keys
from pipeline.providers.base import Normalized, Rejected, brief
from pipeline.providers.hootsuite_rest import MESSAGE_STATE_TYPES
from pipeline.providers.snapshot import PollSnapshot

DELETED = "DELETED"


def normalize_message_snapshot(snapshot: PollSnapshot, lineage: Lineage) -> Normalized:
    result = Normalized()
    outcome = _normalize(snapshot, lineage)
    if isinstance(outcome, Rejected):
        result.rejected.append(outcome)
    else:
        result.events.append(outcome)
    return result


def _normalize(snapshot: PollSnapshot, lineage: Lineage) -> CloudEvent | Rejected:
    message_id, item = snapshot.item_id, snapshot.item
    if not message_id:
        return Rejected("missing_object_id", "snapshot has no item_id")
    if snapshot.deleted:
        state = DELETED
        event_type = "post.deleted"
        data: dict[str, Any] = {"state": DELETED}
    else:
        state = item.get("state", "") if item is not None else ""
        if not isinstance(state, str) or state not in MESSAGE_STATE_TYPES:
            return Rejected("unknown_state", f"message state {brief(state)}", item)
        event_type = MESSAGE_STATE_TYPES[state]
        data = {**snake_keys(item), "state": state}
        data.pop("id", None)
    return build_event(
        lineage,
        identity=("message", message_id, state),
        event_type=event_type,
        object_id=message_id,
        provider_event=f"poll:message:{state}",
        time=parse_time(snapshot.polled_at) or lineage.received_time,
        data=data,
        raw=item,
    )
