"""Hypothesis strategies for the documented provider shapes, and those shapes broken.

Valid documents follow PROVIDERS.md (random ids and times); their broken forms go through
`malformed.broken`, which drops, retypes and repeats fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from pipeline.providers.oktopost import EVENT_MAP
from tests.support.malformed import broken, broken_values, json_values
from tests.support.payloads import OKTOPOST_DATA

ids = st.one_of(
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=2**63 - 1),
)
unix_seconds = st.integers(min_value=0, max_value=4_102_444_800)  # up to 2100
oktopost_times = unix_seconds.map(lambda s: _utc(s).strftime("%Y-%m-%d %H:%M:%S"))
iso_times = unix_seconds.map(lambda s: _utc(s).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@st.composite
def oktopost_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A documented Oktopost webhook body with random ids, times and event."""
    event = draw(st.sampled_from(sorted(OKTOPOST_DATA)))
    data = dict(OKTOPOST_DATA[event])
    for name in data:
        if name.endswith("Id"):
            data[name] = draw(ids)
        elif name.endswith("At"):
            data[name] = draw(oktopost_times)
    return {
        "event": event,
        "timestamp": draw(unix_seconds),
        "webhookId": "0WA" + draw(st.text("0123456789abcdef", min_size=1, max_size=8)),
        "data": data,
    }


@st.composite
def broken_oktopost_documents(draw: st.DrawFn) -> Any:
    """A documented Oktopost body with its fields, or its data's id and time fields, broken."""
    document = draw(oktopost_documents())
    _, id_fields, time_field = EVENT_MAP[document["event"]]
    if draw(st.booleans()):
        data = {**document["data"], time_field or "createdAt": draw(broken_values)}
        document["data"] = draw(broken(data, (*id_fields, time_field or "createdAt")))
    return draw(broken(document, ("event", "timestamp", "webhookId", "data")))


HOOTSUITE_SUBJECTS = {
    "com.hootsuite.messages.event.v1": "message",
    "com.hootsuite.comments.event.v1": "comment",
    "com.hootsuite.apps.event.v1": "organization",
}
HOOTSUITE_STATES = {
    "com.hootsuite.messages.event.v1": [
        "SCHEDULED",
        "PENDING_APPROVAL",
        "APPROVED",
        "SUBMITTED",
        "SENT",
        "SEND_FAILED_PERMANENTLY",
        "DELETED",
        "REJECTED",
    ],
    "com.hootsuite.comments.event.v1": [
        "PENDING_APPROVAL",
        "EXPIRED_APPROVAL",
        "COMPLETED",
        "FAILED",
        "DELETED",
        "REJECTED",
    ],
    "com.hootsuite.apps.event.v1": ["INSTALLED", "UNINSTALLED"],
}
seq_nos = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1).map(str),
    st.integers(min_value=0, max_value=2**63 - 1),
)


@st.composite
def hootsuite_elements(draw: st.DrawFn) -> dict[str, Any]:
    """One documented `{seq_no, type, data}` element of a Hootsuite batch (never a ping)."""
    kind = draw(st.sampled_from(sorted(HOOTSUITE_STATES)))
    data: dict[str, Any] = {
        "state": draw(st.sampled_from(HOOTSUITE_STATES[kind])),
        "organization": {"id": str(draw(ids))},
        HOOTSUITE_SUBJECTS[kind]: {"id": draw(ids)},
        "timestamp": draw(iso_times),
    }
    return {"seq_no": draw(seq_nos), "type": kind, "data": data}


def hootsuite_ping(seq_no: str) -> dict[str, Any]:
    return {"seq_no": seq_no, "type": "com.hootsuite.ping.event.v1", "data": {}}


@st.composite
def broken_hootsuite_elements(draw: st.DrawFn) -> Any:
    """A documented element with its fields, or its data's fields, broken."""
    element = draw(hootsuite_elements())
    if draw(st.booleans()):
        data = element["data"]
        subject = HOOTSUITE_SUBJECTS[element["type"]]
        element["data"] = draw(broken(data, ("state", subject, "timestamp")))
        if draw(st.booleans()):
            element["data"] = draw(broken({**data, subject: {"id": draw(broken_values)}}, ()))
    return draw(broken(element, ("seq_no", "type", "data")))


@st.composite
def mixed_hootsuite_batches(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    """(a batch, its documented elements): good elements between broken ones and pings."""
    good = draw(st.lists(hootsuite_elements(), max_size=5, unique_by=lambda e: str(e["seq_no"])))
    bad = draw(st.lists(broken_hootsuite_elements(), max_size=3))
    pings = [hootsuite_ping(str(n)) for n in range(draw(st.integers(0, 2)))]
    batch = draw(st.permutations(good + bad + pings))
    return batch, good


STANDARD_TYPES = (
    "post.created",
    "post.sent",
    "post.failed",
    "conversation.assigned",
    "lead.created",
    "conversion.created",
    "campaign.created",
    "advocacy.story_created",
    "stream.message",
    "integration.installed",
)


@st.composite
def standard_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A Standard Webhooks body `{type, timestamp, data}` with a normalized type."""
    return {
        "type": draw(st.sampled_from(STANDARD_TYPES)),
        "timestamp": draw(iso_times),
        "data": {"id": draw(ids), "note": draw(st.text(max_size=20))},
    }


POLLED_STATES = (
    "SCHEDULED",
    "PENDING_APPROVAL",
    "SUBMITTED",
    "SENT",
    "SEND_FAILED_PERMANENTLY",
    "REJECTED",
)


@st.composite
def broken_standard_documents(draw: st.DrawFn) -> Any:
    """A Standard Webhooks body with its fields, or its data's ids, broken."""
    document = draw(standard_documents())
    if draw(st.booleans()):
        data = {**document["data"], "post_id": draw(broken_values)}
        document["data"] = draw(broken(data, ("id", "post_id")))
    return draw(broken(document, ("type", "timestamp", "data")))


@st.composite
def message_snapshots(draw: st.DrawFn) -> dict[str, Any]:
    """A `polls.raw` snapshot of a Hootsuite message, as the poller writes it."""
    message_id = str(draw(ids))
    deleted = draw(st.integers(0, 4)) == 0
    item = None
    if not deleted:
        item = {
            "id": message_id,
            "state": draw(st.sampled_from(POLLED_STATES)),
            "text": draw(st.text(max_size=40)),
            "socialProfile": {"id": str(draw(ids))},
            "scheduledSendTime": draw(iso_times),
        }
    return {
        "schema": "poll-snapshot/1",
        "provider": "hootsuite",
        "instance_id": "hs1",
        "polled_at": "2025-11-20T12:00:00.000Z",
        "resource": "message",
        "item_id": message_id,
        "item": item,
        "deleted": deleted,
        "options": {"include_raw": draw(st.booleans())},
    }


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """A documented sample with any of its objects broken (fields dropped, retyped, repeated)
    and any of its scalars replaced, at every depth: what a platform's odd payload may be."""
    if isinstance(value, dict):
        inner = {key: draw(mutated(item)) for key, item in value.items()}
        return draw(broken(inner, tuple(inner))) if draw(st.integers(0, 3)) == 0 else inner
    if isinstance(value, list):
        items = [draw(mutated(item)) for item in value]
        return items + draw(st.lists(json_values, max_size=2))
    return draw(broken_values) if draw(st.integers(0, 5)) == 0 else value
