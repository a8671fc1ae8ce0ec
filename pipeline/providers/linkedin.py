"""LinkedIn: `{type, notifications: [{notificationId, action, …}]}`, each notification one event.

Validation: `GET ?challengeCode=C` → `{"challengeCode": C, "challengeResponse": <hex HMAC-SHA256 of
C with the client secret>}`; LinkedIn validates again every few hours. Signature: `X-LI-Signature`,
hex HMAC-SHA256 of the raw body (LinkedIn's "prefixed by hmacsha256=" is read both ways by
implementations: with and without the prefix are accepted). A notification's `notificationId`
identifies it across LinkedIn's retries; one without is identified by a digest of its content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from pipeline.events.cloudevent import Lineage, parse_time
from pipeline.providers.base import (
    HandshakeAnswer,
    HandshakeParameterError,
    HandshakeRefusedError,
    InstanceKeys,
    Normalized,
    Rejected,
    content_digest,
    decode_json,
    unusable,
)
from pipeline.providers.signatures import hmac_hex, require_signature
from pipeline.providers.social import (
    CATCH_ALL,
    Occurrence,
    event,
    first_id,
    member,
    object_id,
    scalar_fields,
    text,
)

SIGNATURE_HEADER = "x-li-signature"
SHAPE = "a JSON object {type, notifications: [...]}"
SOCIAL_ACTIONS = "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS"
# Organization social action → (normalized type, fields holding the subject's id, first found)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "COMMENT": ("comment.created", ("generatedActivity",)),
    "ADMIN_COMMENT": ("comment.created", ("generatedActivity",)),
    "COMMENT_EDIT": ("comment.updated", ("generatedActivity",)),
    "COMMENT_DELETE": ("comment.deleted", ("generatedActivity",)),
    "LIKE": ("reaction.created", ("generatedActivity", "notificationId")),
    "SHARE": ("share.created", ("generatedActivity", "sourcePost")),
    "MENTION": ("mention.created", ("generatedActivity", "sourcePost")),
    "SHARE_MENTION": ("mention.created", ("generatedActivity", "sourcePost")),
}


class LinkedIn:
    name = "linkedin"
    kept_headers: tuple[str, ...] = ()
    empty_acknowledgement = False

    def new_secret(self) -> str | None:
        return None  # the client secret is LinkedIn's to issue

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        given = headers.get(SIGNATURE_HEADER, "").strip().lower().removeprefix("hmacsha256=")
        require_signature(secret, given, hmac_hex(secret or "", body), "X-LI-Signature")

    def handshake(self, keys: InstanceKeys, query: Mapping[str, str]) -> HandshakeAnswer:
        code = query.get("challengeCode")
        if not code:
            raise HandshakeParameterError("challengeCode is missing")
        if not keys.signing_secret:
            raise HandshakeRefusedError("the instance has no client secret to answer with")
        response = hmac_hex(keys.signing_secret, code.encode("utf-8", "replace"))
        body = {"challengeCode": code, "challengeResponse": response}
        return HandshakeAnswer(orjson.dumps(body), "application/json")

    def parse(self, body: bytes) -> Any:
        return decode_json(body, dict, SHAPE)

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        problem = unusable(payload, dict, SHAPE)
        if problem is None and not isinstance(payload.get("notifications"), list):
            problem = Rejected("unparseable_body", f"body must be {SHAPE}")
        if problem is not None:
            result.rejected.append(problem)
            return result
        kind = payload.get("type")
        for notification in payload["notifications"]:
            outcome = _notification(kind, notification, lineage)
            if isinstance(outcome, Rejected):
                result.rejected.append(outcome)
            else:
                result.events.append(event(lineage, outcome))
        if not (result.events or result.rejected):
            result.rejected.append(Rejected("empty_batch", "the body holds no notification"))
        return result


def _notification(kind: Any, notification: Any, lineage: Lineage) -> Occurrence | Rejected:
    if not isinstance(notification, dict):
        return Rejected("malformed_element", "notification is not an object", notification)
    action = notification.get("action")
    mapped = ACTIONS.get(action) if isinstance(action, str) else None
    if kind not in (SOCIAL_ACTIONS, None) or mapped is None:
        mapped = (CATCH_ALL, ("notificationId",))
    event_type, id_fields = mapped
    name = str(action) if kind in (SOCIAL_ACTIONS, None) else f"{kind}:{action}"
    found = object_id(first_id(notification, id_fields), f"{name} object id", notification)
    if isinstance(found, Rejected):
        return found
    number = text(notification.get("notificationId"))
    identity = ("notification", number) if number else ("content", content_digest(notification))
    fields = {
        "platform": "linkedin",
        "account_id": text(notification.get("organizationalEntity")),
        "author_id": text(notification.get("actor")),
        "parent_id": text(notification.get("sourcePost")),
        "text": text(member(notification, "decoratedGeneratedActivity", "comment", "text")),
    }
    if event_type == CATCH_ALL:
        fields = {**scalar_fields(notification), **fields}
    return Occurrence(
        event_type=event_type,
        object_id=found,
        provider_event=name,
        identity=identity,
        time=parse_time(notification.get("lastModifiedAt")) or lineage.received_time,
        fields=fields,
        raw=notification,
    )
