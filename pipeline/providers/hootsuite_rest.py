"""Facts of Hootsuite's REST API, in one place for its client, its simulator and the normalizers.

The poller's client (`pollers.hootsuite_api`) and the simulator (`simulators.hootsuite`) both
enforce the listing window; the snapshot normalizer (`hootsuite_polls`) and the webhook
normalizer (`hootsuite`) both map message states to normalized types.
"""

from __future__ import annotations

from datetime import timedelta

# `GET /v1/messages` refuses a window (`startTime` to `endTime`) longer than this (error 40020).
MAX_WINDOW = timedelta(weeks=4)

# A REST message's `state` → the normalized type of the event it becomes.
MESSAGE_STATE_TYPES: dict[str, str] = {
    "SCHEDULED": "post.scheduled",
    "PENDING_APPROVAL": "post.approval_requested",
    "SUBMITTED": "post.updated",
    "SENT": "post.sent",
    "SEND_FAILED_PERMANENTLY": "post.failed",
    "REJECTED": "post.rejected",
}

# The values `GET /v1/messages` documents for its `state` filter, one per listing: SUBMITTED is
# a state a message can be in, but not one a listing can ask for.
LISTING_STATES = ("PENDING_APPROVAL", "REJECTED", "SENT", "SCHEDULED", "SEND_FAILED_PERMANENTLY")
