"""Hootsuite App Directory / REST webhooks: a JSON array of `{seq_no, type, data}`, ids only.

`seq_no` is Hootsuite's dedup key for retried batches; pings are answered and dropped. No signature
is documented for these webhooks; when the instance has a secret, `X-Hootsuite-Signature` (hex
HMAC-SHA256 of the raw body, as Hootsuite Inbox signs) is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.events.cloudevent import CloudEvent, Lineage, build_event, parse_time, snake_keys
from pipeline.providers.base import (
    MAX_DEPTH,
    Normalized,
    Rejected,
    brief,
    decode_json,
    identifier,
    is_missing,
    nests_deeper,
)
from pipeline.providers.hootsuite_rest import MESSAGE_STATE_TYPES
from pipeline.providers.signatures import verify_hex

PING = "com.hootsuite.ping.event.v1"
MESSAGES = "com.hootsuite.messages.event.v1"
COMMENTS = "com.hootsuite.comments.event.v1"
APPS = "com.hootsuite.apps.event.v1"
SHAPE = "a JSON array of {seq_no, type, data}"

# webhook type → {state → normalized type}
STATE_MAP: dict[str, dict[str, str]] = {
    # The REST states, and two that only webhooks report.
    MESSAGES: {**MESSAGE_STATE_TYPES, "APPROVED": "post.approved", "DELETED": "post.deleted"},
    COMMENTS: dict.fromkeys(
        ("PENDING_APPROVAL", "EXPIRED_APPROVAL", "COMPLETED", "FAILED", "DELETED", "REJECTED"),
        "conversation.status_changed",
    ),
    APPS: {"INSTALLED": "integration.installed", "UNINSTALLED": "integration.uninstalled"},
}
# webhook type → the data object whose id names the subject
SUBJECT_OBJECT = {MESSAGES: "message", COMMENTS: "comment", APPS: "organization"}


class Hootsuite:
    name = "hootsuite"
    kept_headers: tuple[str, ...] = ()
    empty_acknowledgement = True  # Hootsuite's App Directory asks for an empty 2xx body

    def new_secret(self) -> str | None:
        return None  # Hootsuite does not sign App Directory webhooks: nothing to hand it

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        if secret:
            signature = headers.get("x-hootsuite-signature", "")
            verify_hex(secret, signature, [body], "X-Hootsuite-Signature")

    def parse(self, body: bytes) -> Any:
        payload = decode_json(body, (list, dict), SHAPE)
        return [payload] if isinstance(payload, dict) else payload

    def has_events(self, payload: Any) -> bool:
        if not isinstance(payload, list):
            return True  # not a batch: normalize dead-letters it
        return any(not _is_ping(element) for element in payload)

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        batch = [payload] if isinstance(payload, dict) else payload
        if not isinstance(batch, list):
            result.rejected.append(Rejected("unparseable_body", f"body must be {SHAPE}"))
            return result
        for element in batch:
            if _is_ping(element):
                result.ignored += 1
                continue
            outcome = _normalize_element(element, lineage)
            if isinstance(outcome, Rejected):
                result.rejected.append(outcome)
            else:
                result.events.append(outcome)
        return result


def _is_ping(element: Any) -> bool:
    return isinstance(element, dict) and element.get("type") == PING


def _normalize_element(element: Any, lineage: Lineage) -> CloudEvent | Rejected:
    rejected = _malformed(element) or _unmapped(element)
    if rejected is not None:
        return rejected
    seq_no, kind, data = element["seq_no"], element["type"], element["data"]
    state = data["state"]
    object_id = _subject_id(kind, element)
    if isinstance(object_id, Rejected):
        return object_id
    return build_event(
        lineage,
        identity=(seq_no,),
        event_type=STATE_MAP[kind][state],
        object_id=object_id,
        provider_event=f"{kind}:{state}",
        time=parse_time(data.get("timestamp")) or lineage.received_time,
        data={**snake_keys(data), "state": state},
        raw=element,
    )


def _malformed(element: Any) -> Rejected | None:
    """Why `element` is not `{seq_no, type, data}` with a usable `seq_no`, or None."""
    if nests_deeper(element):
        # Left out of the dead letter, which could not be written; the record keeps the body.
        return Rejected("nested_too_deep", f"element nests deeper than {MAX_DEPTH} levels")
    if not isinstance(element, dict) or not isinstance(element.get("data"), dict):
        return Rejected("malformed_element", "element is not {seq_no, type, data}", element)
    seq_no = element.get("seq_no")
    if is_missing(seq_no):
        return Rejected("missing_seq_no", "element has no seq_no", element)
    if identifier(seq_no) is None:
        message = f"seq_no {brief(seq_no)} is neither a string nor an integer"
        return Rejected("invalid_seq_no", message, element)
    return None


def _unmapped(element: dict[str, Any]) -> Rejected | None:
    """Why the element's type and state have no normalized type, or None."""
    kind, state = element.get("type"), element["data"].get("state", "")
    if not isinstance(kind, str) or kind not in STATE_MAP:
        return Rejected("unknown_event_type", f"unknown webhook type {brief(kind)}", element)
    if not isinstance(state, str) or state not in STATE_MAP[kind]:
        return Rejected("unknown_state", f"{kind} has unknown state {brief(state)}", element)
    return None


def _subject_id(kind: str, element: dict[str, Any]) -> str | Rejected:
    label = SUBJECT_OBJECT[kind]
    subject = element["data"].get(label)
    found = subject.get("id") if isinstance(subject, dict) else None
    if is_missing(found):
        return Rejected("missing_object_id", f"{kind} data lacks {label}.id", element)
    object_id = identifier(found)
    if object_id is None:
        message = f"{kind} {label}.id {brief(found)} is neither a string nor an integer"
        return Rejected("invalid_object_id", message, element)
    return object_id
