"""Meta (Facebook Pages, Instagram, Messenger): `{object, entry: [{id, time, changes|messaging}]}`.

Verification: `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` → `C` when `T` is the
instance's `verify_token`. Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body with the app secret>`, over the bytes as received (Meta escapes non-ASCII, so a
re-serialisation would not match). One POST batches entries, each with several changes or
messaging items: each item is one event. Meta sends no event id and retries: a change is
identified by object, entry (account) id, field, its kind, the object's id and a digest of the
change's value (an edit differs from the add in its value); a message by its `mid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

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
from pipeline.providers.signatures import hmac_hex, require_signature, same_text
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

SIGNATURE_HEADER = "x-hub-signature-256"
SHAPE = "a JSON object {object, entry: [...]}"
PLATFORMS = {"page": "facebook", "instagram": "instagram"}
POST_ITEMS = ("post", "status", "photo", "video")
# Page `feed` changes: (item, verb) → normalized type; other pairs are the catch-all's.
FEED: dict[tuple[str, str], str] = {
    ("comment", "add"): "comment.created",
    ("comment", "edited"): "comment.updated",
    ("comment", "remove"): "comment.deleted",
    **{(item, "add"): "post.published" for item in POST_ITEMS},
    **{(item, "edited"): "post.updated" for item in POST_ITEMS},
    **{(item, "remove"): "post.deleted" for item in POST_ITEMS},
    ("reaction", "add"): "reaction.created",
    ("reaction", "edit"): "reaction.created",  # another reaction replaces the first
    ("reaction", "remove"): "reaction.deleted",
    ("share", "add"): "share.created",
}
CATCH_ALL_IDS = ("id", "comment_id", "post_id", "media_id", "mid")


class Meta:
    name = "meta"
    kept_headers: tuple[str, ...] = ()
    empty_acknowledgement = False

    def new_secret(self) -> str | None:
        return None  # the app secret is Meta's to issue

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        expected = "sha256=" + hmac_hex(secret or "", body)
        given = headers.get(SIGNATURE_HEADER, "").lower()
        require_signature(secret, given, expected, "X-Hub-Signature-256")

    def handshake(self, keys: InstanceKeys, query: Mapping[str, str]) -> HandshakeAnswer:
        token = query.get("hub.verify_token", "")
        expected = keys.verify_token
        if query.get("hub.mode") != "subscribe" or not expected or not same_text(token, expected):
            raise HandshakeRefusedError("hub.verify_token is not the instance's verify_token")
        challenge = query.get("hub.challenge")
        if not challenge:
            raise HandshakeParameterError("hub.challenge is missing")
        return HandshakeAnswer(challenge.encode("utf-8", "replace"))

    def parse(self, body: bytes) -> Any:
        return decode_json(body, dict, SHAPE)

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        problem = unusable(payload, dict, SHAPE)
        if problem is None and (
            not isinstance(payload.get("entry"), list) or not isinstance(payload.get("object"), str)
        ):
            problem = Rejected("unparseable_body", f"body must be {SHAPE}")
        if problem is not None:
            result.rejected.append(problem)
            return result
        for entry in payload["entry"]:
            for outcome in _entry(payload["object"], entry, lineage):
                if isinstance(outcome, Rejected):
                    result.rejected.append(outcome)
                else:
                    result.events.append(event(lineage, outcome))
        if not (result.events or result.rejected):
            result.rejected.append(Rejected("empty_batch", "the body holds no change or message"))
        return result


def _entry(kind: str, entry: Any, lineage: Lineage) -> list[Occurrence | Rejected]:
    changes, messaging = member(entry, "changes"), member(entry, "messaging")
    if not isinstance(changes, list) and not isinstance(messaging, list):
        return [Rejected("malformed_element", "entry has no changes or messaging array", entry)]
    when = parse_time(entry.get("time")) or lineage.received_time
    found: list[Occurrence | Rejected] = []
    for change in changes if isinstance(changes, list) else []:
        found.append(_change(kind, entry, change, when))
    for item in messaging if isinstance(messaging, list) else []:
        found.append(_messaging(kind, entry, item, when))
    return found


def _change(kind: str, entry: dict[str, Any], change: Any, when: datetime) -> Occurrence | Rejected:
    field, value = member(change, "field"), member(change, "value")
    if not isinstance(field, str) or not isinstance(value, dict):
        return Rejected("malformed_element", "change is not {field, value: {…}}", change)
    event_type, subject, provider_event = _mapped(kind, field, value)
    if event_type == CATCH_ALL:
        subject = first_id(value, CATCH_ALL_IDS) or entry.get("id")
    found = object_id(subject, f"{provider_event} object id", change)
    if isinstance(found, Rejected):
        return found
    account = text(entry.get("id"))
    author = member(value, "from")
    fields = {
        "platform": PLATFORMS.get(kind, kind),
        "account_id": account,
        "text": text(value.get("message")) or text(value.get("text")),
        "author_id": text(member(author, "id")),
        "author_name": text(member(author, "name")) or text(member(author, "username")),
        "parent_id": text(value.get("parent_id")) or text(member(value, "media", "id")),
        "reaction": text(value.get("reaction_type")) if event_type.startswith("reaction") else None,
    }
    if event_type == CATCH_ALL:
        fields = {**scalar_fields(value), **fields}
    return Occurrence(
        event_type=event_type,
        object_id=found,
        provider_event=provider_event,
        identity=("change", kind, account, provider_event, found, content_digest(value)),
        time=parse_time(value.get("created_time")) or when,
        fields=fields,
        raw=change,
    )


# (object, field) of changes other than a Page's feed → (type, fields holding the subject's id)
OTHER_CHANGES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("page", "mention"): ("mention.created", ("comment_id", "post_id")),
    ("instagram", "comments"): ("comment.created", ("id",)),
    ("instagram", "live_comments"): ("comment.created", ("id",)),
    ("instagram", "mentions"): ("mention.created", ("comment_id", "media_id")),
}


def _mapped(kind: str, field: str, value: dict[str, Any]) -> tuple[str, Any, str]:
    """(normalized type, the subject's id, the platform's name of the kind) of one change."""
    item, verb = value.get("item"), value.get("verb")
    if kind == "page" and field == "feed" and isinstance(item, str) and isinstance(verb, str):
        return (
            FEED.get((item, verb), CATCH_ALL),
            _feed_subject(item, value),
            f"page:feed:{item}:{verb}",
        )
    event_type, id_fields = OTHER_CHANGES.get((kind, field), (CATCH_ALL, ()))
    return event_type, first_id(value, id_fields), f"{kind}:{field}"


def _feed_subject(item: str, value: dict[str, Any]) -> Any:
    if item == "comment":
        return value.get("comment_id")
    if item == "reaction":
        target = first_id(value, ("comment_id", "post_id"))
        return _reaction_id(target, member(value, "from", "id"))
    if item == "share":
        return first_id(value, ("share_id", "post_id"))
    return value.get("post_id")


def _reaction_id(target: Any, user: Any) -> Any:
    """One person's reaction to one object: its add and its removal share the subject."""
    target_id, user_id = text(target), text(user)
    if target_id is None or user_id is None:
        return target
    return f"{target_id}_{user_id}"


def _messaging(
    kind: str, entry: dict[str, Any], item: Any, when: datetime
) -> Occurrence | Rejected:
    if not isinstance(item, dict):
        return Rejected("malformed_element", "messaging item is not an object", item)
    message = item.get("message")
    fields = {
        "platform": PLATFORMS.get(kind, kind),
        "account_id": text(entry.get("id")),
        "author_id": text(member(item, "sender", "id")),
        "recipient_id": text(member(item, "recipient", "id")),
    }
    at = parse_time(item.get("timestamp")) or when
    if isinstance(message, dict):
        mid = object_id(message.get("mid"), "message.mid", item)
        if isinstance(mid, Rejected):
            return mid
        echo = message.get("is_echo") is True  # the Page's own message, echoed back
        return Occurrence(
            event_type="message.sent" if echo else "message.received",
            object_id=mid,
            provider_event=f"{kind}:messaging:message",
            identity=("message", mid),
            time=at,
            fields={**fields, "text": text(message.get("text"))},
            raw=item,
        )
    name = next((k for k in item if k not in ("sender", "recipient", "timestamp")), "unknown")
    found = object_id(fields["author_id"] or fields["account_id"], "messaging sender.id", item)
    if isinstance(found, Rejected):
        return found
    return Occurrence(
        event_type=CATCH_ALL,
        object_id=found,
        provider_event=f"{kind}:messaging:{name}",
        identity=("messaging", kind, content_digest(item)),
        time=at,
        fields={**scalar_fields(item.get(name)), **fields},
        raw=item,
    )
