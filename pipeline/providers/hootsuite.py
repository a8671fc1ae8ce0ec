"""Hootsuite App Directory / REST webhooks: a JSON array of `{seq_no, type, data}`, ids only.

`seq_no` is Hootsuite's dedup key for retried batches; pings are answered and dropped. No signature
is documented for these webhooks; when the instance has a secret, `X-Hootsuite-Signature` (hex
HMAC-SHA256 of the raw body, as Hootsuite Inbox signs) is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.events.cloudevent import Lineage, build_event, parse_time, snake_keys
from pipeline.providers.base import Normalized, Rejected, decode_json
from pipeline.providers.signatures import verify_hex

PING = "com.hootsuite.ping.event.v1"
MESSAGES = "com.hootsuite.messages.event.v1"
COMMENTS = "com.hootsuite.comments.event.v1"
APPS = "com.hootsuite.apps.event.v1"

# webhook type → {state → normalized type}
STATE_MAP: dict[str, dict[str, str]] = {
    MESSAGES: {
        "SCHEDULED": "post.scheduled",
        "PENDING_APPROVAL": "post.approval_requested",
        "APPROVED": "post.approved",
        "SUBMITTED": "post.updated",
        "SENT": "post.sent",
        "SEND_FAILED_PERMANENTLY": "post.failed",
        "DELETED": "post.deleted",
        "REJECTED": "post.rejected",
    },
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

    def new_secret(self) -> str | None:
        return None  # Hootsuite does not sign App Directory webhooks: nothing to hand it

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        if secret:
            signature = headers.get("x-hootsuite-signature", "")
            verify_hex(secret, signature, [body], "X-Hootsuite-Signature")

    def parse(self, body: bytes) -> Any:
        payload = decode_json(body, (list, dict), "a JSON array of {seq_no, type, data}")
        return [payload] if isinstance(payload, dict) else payload

    def has_events(self, payload: Any) -> bool:
        return any(not _is_ping(element) for element in payload)

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        for element in payload:
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


def _normalize_element(element: Any, lineage: Lineage) -> dict[str, Any] | Rejected:
    if not isinstance(element, dict) or not isinstance(element.get("data"), dict):
        return Rejected("malformed_element", "element is not {seq_no, type, data}", element)
    seq_no, kind, data = element.get("seq_no"), element.get("type"), element["data"]
    if seq_no in (None, ""):
        return Rejected("missing_seq_no", "element has no seq_no", element)
    states = STATE_MAP.get(str(kind))
    if states is None:
        return Rejected("unknown_event_type", f"unknown webhook type {kind!r}", element)
    state = str(data.get("state", ""))
    if state not in states:
        return Rejected("unknown_state", f"{kind} has unknown state {state!r}", element)
    subject = data.get(SUBJECT_OBJECT[str(kind)])
    object_id = subject.get("id") if isinstance(subject, dict) else None
    if object_id in (None, ""):
        label = SUBJECT_OBJECT[str(kind)]
        return Rejected("missing_object_id", f"{kind} data lacks {label}.id", element)
    return build_event(
        lineage,
        identity=(seq_no,),
        event_type=states[state],
        object_id=str(object_id),
        provider_event=f"{kind}:{state}",
        time=parse_time(data.get("timestamp")) or lineage.received_time,
        data={**snake_keys(data), "state": state},
        raw=element,
    )
