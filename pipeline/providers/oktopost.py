"""Oktopost: signed single-event webhooks `{event, timestamp, webhookId, data}`, retried 3 times.

Signature: hex HMAC of the body with the webhook's secret in `X-Oktopost-Signature`. Oktopost's
webhook docs show SHA-256 over `JSON.stringify(payload)`; its SDK checks SHA-1 over the raw body:
both algorithms are accepted, over the raw bytes and over the compact re-serialisation.
A managed instance's events (envelope option `identity: content`) are identified by event, object
id and a digest of `data`, so a payload read back from the webhook log gets the pushed one's id.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from pipeline.events.cloudevent import CloudEvent, Lineage, build_event, parse_time, snake_keys
from pipeline.providers.base import (
    Normalized,
    Rejected,
    brief,
    content_digest,
    decode_json,
    identifier,
    is_missing,
    unusable,
)
from pipeline.providers.signatures import verify_hex

SIGNATURE_HEADER = "x-oktopost-signature"
SHAPE = "a JSON object {event, timestamp, webhookId, data}"

# Oktopost event → (normalized type, data fields that may hold the object id, data time field).
EVENT_MAP: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "newAdvocacyMessage": ("advocacy.message_created", ("messageId", "id"), "createdAt"),
    "newAdvocacyStory": ("advocacy.story_created", ("storyId", "id"), "createdAt"),
    "newAdvocacyTopic": ("advocacy.topic_created", ("topicId", "id"), "createdAt"),
    "postCreated": ("post.created", ("postId", "id"), "createdAt"),
    "postModified": ("post.updated", ("postId", "id"), "modifiedAt"),
    "postDeleted": ("post.deleted", ("postId", "id"), "deletedAt"),
    "postSent": ("post.sent", ("postId", "id"), "sentAt"),
    "newConversation": ("conversation.created", ("conversationId", "id"), "createdAt"),
    "conversationUpdated": ("conversation.updated", ("conversationId", "id"), "updatedAt"),
    "conversationStatusUpdated": (
        "conversation.status_changed",
        ("conversationId", "id"),
        "updatedAt",
    ),
    "newNoteOnConversation": ("conversation.note_added", ("conversationId", "id"), "createdAt"),
    "newAssignment": ("conversation.assigned", ("conversationId", "id"), "assignedAt"),
    "newLead": ("lead.created", ("leadId", "id"), "createdAt"),
    "newLeadActivity": ("lead.activity", ("leadId", "id"), "createdAt"),
    "newConversion": ("conversion.created", ("conversionId", "id"), "createdAt"),
    "newApprovalItem": ("post.approval_requested", ("postId", "messageId", "id"), "createdAt"),
    "approvalItemApproved": ("post.approved", ("postId", "messageId", "id"), "approvedAt"),
    "approvalItemRejected": ("post.rejected", ("postId", "messageId", "id"), "rejectedAt"),
    "newCampaign": ("campaign.created", ("campaignId", "id"), "createdAt"),
}


class Oktopost:
    name = "oktopost"
    kept_headers: tuple[str, ...] = ("x-oktopost-webhook", "x-oktopost-payload")
    empty_acknowledgement = False

    def new_secret(self) -> str | None:
        return secrets.token_hex(32)

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        messages = [body]
        try:
            compact = orjson.dumps(orjson.loads(body))
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # not JSON, or too deep to write
            compact = body
        if compact != body:
            messages.append(compact)
        verify_hex(
            secret or "", headers.get(SIGNATURE_HEADER, ""), messages, "X-Oktopost-Signature"
        )

    def parse(self, body: bytes) -> Any:
        return decode_json(body, dict, SHAPE)

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        outcome = unusable(payload, dict, SHAPE) or _normalize(payload, lineage)
        if isinstance(outcome, Rejected):
            result.rejected.append(outcome)
        else:
            result.events.append(outcome)
        return result


def _normalize(payload: dict[str, Any], lineage: Lineage) -> CloudEvent | Rejected:
    event, data = payload.get("event"), payload.get("data")
    if not isinstance(event, str) or event not in EVENT_MAP:  # an object or array is unhashable
        return Rejected("unknown_event_type", f"unknown event {brief(event)}")
    if not isinstance(data, dict):
        return Rejected("missing_data", f"{event} has no data object")
    event_type, id_fields, time_field = EVENT_MAP[event]
    found = next((data[f] for f in id_fields if not is_missing(data.get(f))), None)
    if found is None:
        return Rejected("missing_object_id", f"{event} data lacks {' or '.join(id_fields)}")
    object_id = identifier(found)
    if object_id is None:
        message = f"{event} object id {brief(found)} is neither a string nor an integer"
        return Rejected("invalid_object_id", message)
    occurred = (
        parse_time(data.get(time_field) if time_field else None)
        or parse_time(payload.get("timestamp"))
        or lineage.received_time
    )
    identity = (payload.get("webhookId", ""), event, object_id, payload.get("timestamp", ""))
    if lineage.identity == "content":
        # the same for a pushed body and its webhook-log copy (which lack timestamp, webhookId)
        identity = ("content", event, object_id, content_digest(data))
    return build_event(
        lineage,
        identity=identity,
        event_type=event_type,
        object_id=object_id,
        provider_event=event,
        time=occurred,
        data=snake_keys(data),
        raw=payload,
    )
