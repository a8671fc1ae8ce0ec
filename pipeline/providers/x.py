"""X (Account Activity API): `{for_user_id, <kind>_events: [...]}`, each item one event.

CRC: `GET ?crc_token=C` → `{"response_token": "sha256=<base64 HMAC-SHA256 of C with the consumer
secret>"}` (X checks it within 3 s, and again periodically). Signature:
`x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256 of the raw body>`. X's own ids identify
each occurrence (a tweet's `id_str`, a favorite's `id`, a direct message's `id`); a follow by its
kind, both users and its time; an unknown kind by a digest of the item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
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
from pipeline.providers.signatures import hmac_base64, require_signature
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

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
SHAPE = "a JSON object {for_user_id, <kind>_events: [...]}"
CREATED_AT = "%a %b %d %H:%M:%S %z %Y"  # `Wed Oct 10 20:19:24 +0000 2018`
FOLLOWS = {"follow": "follow.created", "unfollow": "follow.deleted"}


class X:
    name = "x"
    kept_headers: tuple[str, ...] = ()
    empty_acknowledgement = False

    def new_secret(self) -> str | None:
        return None  # the consumer secret is X's to issue

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        expected = "sha256=" + hmac_base64(secret or "", body)
        given = headers.get(SIGNATURE_HEADER, "")
        require_signature(secret, given, expected, "x-twitter-webhooks-signature")

    def handshake(self, keys: InstanceKeys, query: Mapping[str, str]) -> HandshakeAnswer:
        token = query.get("crc_token")
        if not token:
            raise HandshakeParameterError("crc_token is missing")
        if not keys.signing_secret:
            raise HandshakeRefusedError("the instance has no consumer secret to answer with")
        answer = "sha256=" + hmac_base64(keys.signing_secret, token.encode("utf-8", "replace"))
        return HandshakeAnswer(orjson.dumps({"response_token": answer}), "application/json")

    def parse(self, body: bytes) -> Any:
        return decode_json(body, dict, SHAPE)

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        problem = unusable(payload, dict, SHAPE)
        if problem is not None:
            result.rejected.append(problem)
            return result
        user = text(payload.get("for_user_id"))
        for kind, items in payload.items():
            if not kind.endswith("_events"):
                continue  # `for_user_id`, and the `users` / `apps` lookups of DM events
            if not isinstance(items, list):
                result.rejected.append(Rejected("malformed_element", f"{kind} is not an array"))
                continue
            handler = HANDLERS.get(kind, _other)
            for item in items:
                outcome = _item(handler, kind, item, user, lineage)
                if isinstance(outcome, Rejected):
                    result.rejected.append(outcome)
                else:
                    result.events.append(event(lineage, outcome))
        if not (result.events or result.rejected):
            result.rejected.append(Rejected("empty_batch", "the body holds no …_events item"))
        return result


Handler = Callable[[str, dict[str, Any], str | None, datetime], Occurrence | Rejected]


def _item(
    handler: Handler, kind: str, item: Any, user: str | None, lineage: Lineage
) -> Occurrence | Rejected:
    if not isinstance(item, dict):
        return Rejected("malformed_element", f"an item of {kind} is not an object", item)
    when = (
        parse_time(item.get("timestamp_ms"))
        or parse_time(item.get("created_timestamp"))
        or _created_at(item.get("created_at"))
        or lineage.received_time
    )
    return handler(kind, item, user, when)


def _created_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, CREATED_AT)
    except ValueError:  # not X's format: the other times, or the receipt, stand
        return None


def _tweet(
    kind: str, item: dict[str, Any], user: str | None, when: datetime
) -> Occurrence | Rejected:
    found = object_id(first_id(item, ("id_str", "id")), "tweet id_str", item)
    if isinstance(found, Rejected):
        return found
    author = text(member(item, "user", "id_str")) or text(member(item, "user", "id"))
    replied = text(item.get("in_reply_to_user_id_str"))
    if isinstance(item.get("retweeted_status"), dict):
        event_type = "share.created"
    elif user is not None and author == user:
        event_type = "post.published"
    elif user is not None and replied == user:
        event_type = "comment.created"  # a reply is X's comment
    else:
        event_type = "mention.created"
    parent = text(item.get("in_reply_to_status_id_str")) or text(
        member(item, "retweeted_status", "id_str")
    )
    fields = {
        "platform": "x",
        "account_id": user,
        "text": text(member(item, "extended_tweet", "full_text")) or text(item.get("text")),
        "author_id": author,
        "author_name": text(member(item, "user", "screen_name")),
        "parent_id": parent or text(item.get("quoted_status_id_str")),
    }
    return Occurrence(event_type, found, kind, ("tweet", found), when, fields, item)


def _favorite(
    kind: str, item: dict[str, Any], user: str | None, when: datetime
) -> Occurrence | Rejected:
    found = object_id(item.get("id"), "favorite id", item)
    if isinstance(found, Rejected):
        return found
    fields = {
        "platform": "x",
        "account_id": user,
        "author_id": text(member(item, "user", "id_str")),
        "author_name": text(member(item, "user", "screen_name")),
        "parent_id": text(member(item, "favorited_status", "id_str")),
        "reaction": "like",
    }
    return Occurrence("reaction.created", found, kind, ("favorite", found), when, fields, item)


def _follow(
    kind: str, item: dict[str, Any], user: str | None, when: datetime
) -> Occurrence | Rejected:
    follower, followed = text(member(item, "source", "id")), text(member(item, "target", "id"))
    verb = item.get("type")
    found = object_id(f"{follower}-{followed}" if follower and followed else None, "ids", item)
    if isinstance(found, Rejected):
        return found
    fields = {
        "platform": "x",
        "account_id": user,
        "follower_id": follower,
        "followed_id": followed,
        "author_name": text(member(item, "source", "screen_name")),
    }
    event_type = FOLLOWS.get(verb, CATCH_ALL) if isinstance(verb, str) else CATCH_ALL
    identity = ("follow", str(verb), found, str(item.get("created_timestamp")))
    return Occurrence(event_type, found, f"{kind}:{verb}", identity, when, fields, item)


def _direct_message(
    kind: str, item: dict[str, Any], user: str | None, when: datetime
) -> Occurrence | Rejected:
    found = object_id(item.get("id"), "direct message id", item)
    if isinstance(found, Rejected):
        return found
    if item.get("type") != "message_create":
        return _other(kind, item, user, when)
    sender = text(member(item, "message_create", "sender_id"))
    fields = {
        "platform": "x",
        "account_id": user,
        "text": text(member(item, "message_create", "message_data", "text")),
        "author_id": sender,
        "recipient_id": text(member(item, "message_create", "target", "recipient_id")),
    }
    sent = user is not None and sender == user
    event_type = "message.sent" if sent else "message.received"
    name = f"{kind}:message_create"
    return Occurrence(event_type, found, name, ("dm", found), when, fields, item)


def _tweet_delete(
    kind: str, item: dict[str, Any], user: str | None, when: datetime
) -> Occurrence | Rejected:
    found = object_id(member(item, "status", "id"), "status.id", item)
    if isinstance(found, Rejected):
        return found
    fields = {
        "platform": "x",
        "account_id": user,
        "author_id": text(member(item, "status", "user_id")),
    }
    return Occurrence("post.deleted", found, kind, ("delete", found), when, fields, item)


def _other(
    kind: str, item: dict[str, Any], user: str | None, when: datetime
) -> Occurrence | Rejected:
    """A kind the catalog has no type for (blocks, mutes, typing, reads…): the catch-all."""
    found = object_id(first_id(item, ("id_str", "id")) or user, f"{kind} item id", item)
    if isinstance(found, Rejected):
        return found
    fields = {**scalar_fields(item), "platform": "x", "account_id": user}
    identity = ("other", kind, content_digest(item))
    return Occurrence(CATCH_ALL, found, kind, identity, when, fields, item)


HANDLERS: dict[str, Handler] = {
    "tweet_create_events": _tweet,
    "favorite_events": _favorite,
    "follow_events": _follow,
    "direct_message_events": _direct_message,
    "tweet_delete_events": _tweet_delete,
}
