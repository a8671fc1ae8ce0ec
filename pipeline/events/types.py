"""The normalized event types and the entity (subject prefix) each one is about."""

from __future__ import annotations

from typing import TypeGuard

# type → the collection its subject names (`posts/<id>`); data carries `<entity>_id`.
EVENT_TYPES: dict[str, str] = {
    "post.created": "posts",
    "post.updated": "posts",
    "post.deleted": "posts",
    "post.scheduled": "posts",
    "post.sent": "posts",
    "post.failed": "posts",
    "post.approval_requested": "posts",
    "post.approved": "posts",
    "post.rejected": "posts",
    "conversation.created": "conversations",
    "conversation.updated": "conversations",
    "conversation.assigned": "conversations",
    "conversation.note_added": "conversations",
    "conversation.status_changed": "conversations",
    "lead.created": "leads",
    "lead.activity": "leads",
    "conversion.created": "conversions",
    "campaign.created": "campaigns",
    "advocacy.message_created": "advocacy_messages",
    "advocacy.story_created": "advocacy_stories",
    "advocacy.topic_created": "advocacy_topics",
    "stream.message": "stream_messages",
    "integration.installed": "integrations",
    "integration.uninstalled": "integrations",
    # What the social platforms share (README "Social platforms"), whichever platform it is on.
    "post.published": "posts",
    "comment.created": "comments",
    "comment.updated": "comments",
    "comment.deleted": "comments",
    "message.received": "messages",
    "message.sent": "messages",
    "mention.created": "mentions",
    "reaction.created": "reactions",
    "reaction.deleted": "reactions",
    "share.created": "shares",
    "follow.created": "follows",
    "follow.deleted": "follows",
    "video.published": "videos",
    "video.updated": "videos",
    "video.deleted": "videos",
    # The catch-all: a platform's kind the catalog has no type for yet, kept whole.
    "platform.event": "platform_events",
}

# `posts` → `post_id`: the data field that repeats the subject's id.
ID_FIELDS: dict[str, str] = {
    "posts": "post_id",
    "conversations": "conversation_id",
    "leads": "lead_id",
    "conversions": "conversion_id",
    "campaigns": "campaign_id",
    "advocacy_messages": "advocacy_message_id",
    "advocacy_stories": "advocacy_story_id",
    "advocacy_topics": "advocacy_topic_id",
    "stream_messages": "stream_message_id",
    "integrations": "integration_id",
    "comments": "comment_id",
    "messages": "message_id",
    "mentions": "mention_id",
    "reactions": "reaction_id",
    "shares": "share_id",
    "follows": "follow_id",
    "videos": "video_id",
    "platform_events": "platform_event_id",
}


def entity_of(event_type: str) -> str:
    """The subject collection of a normalized type (KeyError for an unknown type)."""
    return EVENT_TYPES[event_type]


def is_event_type(value: object) -> TypeGuard[str]:
    """Whether `value` (any JSON value a sender wrote) names a normalized type."""
    return isinstance(value, str) and value in EVENT_TYPES
