"""Hootsuite REST message snapshots (`polls.raw`) → post events, one per (message, state).

The event id is derived from instance, message id and state, so repeated polls of one state — or a
restarted poller re-reporting it — deduplicate to the first. The time is when the poller observed
the change: Hootsuite messages carry no `sentAt`.
"""

from __future__ import annotations

from typing import Any

from pipeline.events.cloudevent import Lineage, build_event, parse_time, snake_keys
from pipeline.providers.base import Normalized, Rejected, brief, identifier, is_missing, unusable
from pipeline.providers.hootsuite_rest import MESSAGE_STATE_TYPES

DELETED = "DELETED"


def normalize_message_snapshot(snapshot: Any, lineage: Lineage) -> Normalized:
    result = Normalized()
    outcome = unusable(snapshot, dict, "a JSON object") or _normalize(snapshot, lineage)
    if isinstance(outcome, Rejected):
        result.rejected.append(outcome)
    else:
        result.events.append(outcome)
    return result


def _normalize(snapshot: dict[str, Any], lineage: Lineage) -> dict[str, Any] | Rejected:
    found, item = snapshot.get("item_id"), snapshot.get("item")
    if is_missing(found):
        return Rejected("missing_object_id", "snapshot has no item_id")
    message_id = identifier(found)
    if message_id is None:
        return Rejected("invalid_object_id", f"item_id {brief(found)} is not a string or integer")
    if snapshot.get("deleted"):
        state = DELETED
        event_type = "post.deleted"
        data: dict[str, Any] = {"state": DELETED}
    else:
        state = item.get("state", "") if isinstance(item, dict) else ""
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
        time=parse_time(snapshot.get("polled_at")) or lineage.received_time,
        data=data,
        raw=item,
    )
