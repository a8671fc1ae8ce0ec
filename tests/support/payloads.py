"""Provider requests shaped like the providers' documented payloads, signed as they sign them."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook

# One realistic data object per Oktopost event (ids as Oktopost's docs show them).
OKTOPOST_DATA: dict[str, dict[str, Any]] = {
    "newAdvocacyMessage": {
        "messageId": "0AM1",
        "boardId": "0BD1",
        "createdAt": "2025-11-20 09:00:00",
    },
    "newAdvocacyStory": {"storyId": "0ST1", "boardId": "0BD1"},
    "newAdvocacyTopic": {"topicId": "0TP1", "name": "Launch"},
    "postCreated": {"postId": "0PS1", "network": "LinkedIn", "campaignId": "0CM1"},
    "postModified": {"postId": "0PS1", "network": "LinkedIn"},
    "postDeleted": {"postId": "0PS1"},
    "postSent": {
        "postId": "0PS1",
        "network": "LinkedIn",
        "campaignId": "0CM1",
        "sentAt": "2025-11-20 12:30:00",
    },
    "newConversation": {"conversationId": "0CV1", "network": "Twitter"},
    "conversationUpdated": {"conversationId": "0CV1"},
    "conversationStatusUpdated": {"conversationId": "0CV1", "status": "closed"},
    "newNoteOnConversation": {"conversationId": "0CV1", "note": "call back"},
    "newAssignment": {
        "conversationId": "0CV1",
        "assignedTo": "0US2",
        "assignedBy": "0US1",
        "assignedAt": "2025-11-20 10:15:00",
    },
    "newLead": {"leadId": "0LD1", "email": "lead@example.com"},
    "newLeadActivity": {"leadId": "0LD1", "activity": "click"},
    "newConversion": {"conversionId": "0CN1", "leadId": "0LD1"},
    "newApprovalItem": {"postId": "0PS2", "approvalId": "0AP1"},
    "approvalItemApproved": {"postId": "0PS2", "approvalId": "0AP1"},
    "approvalItemRejected": {"postId": "0PS2", "approvalId": "0AP1"},
    "newCampaign": {"campaignId": "0CM2", "name": "Q4"},
}


def oktopost_body(event: str, data: dict[str, Any] | None = None, **envelope: Any) -> bytes:
    payload = {
        "event": event,
        "timestamp": envelope.get("timestamp", 1763640000),
        "webhookId": envelope.get("webhookId", "0WA7c1f2"),
        "data": OKTOPOST_DATA[event] if data is None else data,
    }
    return orjson.dumps(payload)


def hex_hmac(secret: str, body: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()


def hootsuite_element(seq_no: str, state: str, message_id: str = "9001") -> dict[str, Any]:
    return {
        "seq_no": seq_no,
        "type": "com.hootsuite.messages.event.v1",
        "data": {
            "state": state,
            "organization": {"id": "814"},
            "message": {"id": message_id},
            "timestamp": "2025-11-20T12:00:00Z",
        },
    }


def hootsuite_ping(seq_no: str) -> dict[str, Any]:
    return {"seq_no": seq_no, "type": "com.hootsuite.ping.event.v1", "data": {}}


def standard_request(
    secret: str, msg_id: str, payload: dict[str, Any], *, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """A body and headers signed by the reference Standard Webhooks library."""
    body = orjson.dumps(payload)
    moment = at if at is not None else time.time()
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(moment, UTC), body.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment)),
        "webhook-signature": signature,
    }
    return body, headers
