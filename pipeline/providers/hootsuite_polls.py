"""Hootsuite REST message snapshots (`polls.raw`) → post events, one per (message, state).

The event id is derived from instance, message id and state, so repeated polls of one state — or a
restarted poller re-reporting it — deduplicate to the first. The time is when the poller observed
the change: Hootsuite messages carry no `sentAt`.
"""

from __future__ import annotations

from typing import Any

from pipeline.events.cloudevent import Lineage, build_event, parse_time, snake_keys
from pipeline.providers.base import Normalized, Rejected

STATE_TYPES = {
    "SCHEDULED": "post.scheduled",
    "PENDING_APPROVAL": "post.approval_requested",
    "SUBMITTED": "post.updated",
    "SENT": "post.sent",
    "SEND_FAILED_PERMANENTLY": "post.failed",
    "REJECTED": "post.rejected",
}
DELETED = "DELETED"


def normalize_message_snapshot(snapshot: dict[str, Any], lineage: Lineage) -> Normalized:
    result = Normalized()
    message_id = str(snapshot.get("item_id") or "")
    item = snapshot.get("item")
    if not message_id:
        result.rejected.append(Rejected("missing_object_id", "snapshot has no item_id"))
        return result
    if snapshot.get("deleted"):
        state = DELETED
        event_type = "post.deleted"
        data: dict[str, Any] = {"state": DELETED}
    else:
        state = str(item.get("state", "")) if isinstance(item, dict) else ""
        if state not in STATE_TYPES:
            result.rejected.append(Rejected("unknown_state", f"message state {state!r}", item))
            return result
        event_type = STATE_TYPES[state]
        data = {**snake_keys(item), "state": state}
        data.pop("id", None)
    observed = parse_time(snapshot.get("polled_at")) or lineage.received_time
    result.events.append(
        build_event(
            lineage,
            identity=("message", message_id, state),
            event_type=event_type,
            object_id=message_id,
            provider_event=f"poll:message:{state}",
            time=observed,
            data=data,
            raw=item,
        )
    )
    return result
