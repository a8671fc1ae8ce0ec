"""The social platforms' side, for the demo and the tests: their documented sample payloads
(PROVIDERS.md, "Social platforms") and their requests signed as each platform signs them.

`signed_request(provider, secret, body)` → the headers Meta, X, LinkedIn, TikTok or a YouTube
WebSub hub would send with `body`; `SAMPLES[provider][name]` → a body as bytes.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from pipeline.providers.signatures import hmac_base64, hmac_hex

PAGE, IG_USER, X_USER = "1000000001", "17841400000000001", "2244994945"

META: dict[str, Any] = {
    "page_comment": {
        "object": "page",
        "entry": [
            {
                "id": PAGE,
                "time": 1733490000,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "comment_id": "555_777",
                            "post_id": f"{PAGE}_555",
                            "parent_id": f"{PAGE}_555",
                            "message": "Nice!",
                            "from": {"id": "4242", "name": "Jane"},
                            "created_time": 1733490000,
                        },
                    }
                ],
            }
        ],
    },
    "instagram_comment": {
        "object": "instagram",
        "entry": [
            {
                "id": IG_USER,
                "time": 1733490000,
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "id": "17865799348089039",
                            "text": "Nice!",
                            "from": {"id": "232323232", "username": "jane"},
                            "media": {"id": "123123123", "media_product_type": "FEED"},
                        },
                    }
                ],
            }
        ],
    },
    "message": {
        "object": "page",
        "entry": [
            {
                "id": PAGE,
                "time": 1733490000,
                "messaging": [
                    {
                        "sender": {"id": "6789"},
                        "recipient": {"id": PAGE},
                        "timestamp": 1733490000000,
                        "message": {"mid": "m_abc", "text": "hello"},
                    }
                ],
            }
        ],
    },
}

X_TWEET = {
    "id_str": "1866000000000000001",
    "text": "@brand love it",
    "created_at": "Fri Dec 06 13:00:00 +0000 2024",
    "timestamp_ms": "1733490000000",
    "user": {"id_str": "4040", "screen_name": "jane"},
    "in_reply_to_status_id_str": None,
    "in_reply_to_user_id_str": None,
}
X: dict[str, Any] = {
    "mention": {"for_user_id": X_USER, "tweet_create_events": [X_TWEET]},
    "reply": {
        "for_user_id": X_USER,
        "tweet_create_events": [
            {
                **X_TWEET,
                "id_str": "1866000000000000002",
                "in_reply_to_status_id_str": "1865000000000000000",
                "in_reply_to_user_id_str": X_USER,
            }
        ],
    },
    "own_tweet": {
        "for_user_id": X_USER,
        "tweet_create_events": [
            {**X_TWEET, "id_str": "1866000000000000003", "user": {"id_str": X_USER}}
        ],
    },
    "favorite": {
        "for_user_id": X_USER,
        "favorite_events": [
            {
                "id": "a7ba59eab0bfcba386f7acedac279542",
                "created_at": "Fri Dec 06 13:00:00 +0000 2024",
                "timestamp_ms": 1733490000000,
                "favorited_status": {"id_str": "1865000000000000000"},
                "user": {"id_str": "4040", "screen_name": "jane"},
            }
        ],
    },
    "follow": {
        "for_user_id": X_USER,
        "follow_events": [
            {
                "type": "follow",
                "created_timestamp": "1733490000000",
                "target": {"id": X_USER, "screen_name": "brand"},
                "source": {"id": "4040", "screen_name": "jane"},
            }
        ],
    },
    "direct_message": {
        "for_user_id": X_USER,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": "954491830116155396",
                "created_timestamp": "1733490000000",
                "message_create": {
                    "target": {"recipient_id": X_USER},
                    "sender_id": "4040",
                    "message_data": {"text": "hello"},
                },
            }
        ],
    },
    "tweet_delete": {
        "for_user_id": X_USER,
        "tweet_delete_events": [
            {
                "status": {"id": "1866000000000000003", "user_id": X_USER},
                "timestamp_ms": "1733490000000",
            }
        ],
    },
}

LINKEDIN_COMMENT = {
    "notificationId": 98765,
    "action": "COMMENT",
    "organizationalEntity": "urn:li:organization:123",
    "sourcePost": "urn:li:share:456",
    "generatedActivity": "urn:li:comment:(urn:li:activity:789,111)",
    "lastModifiedAt": 1733490000000,
}


def _linkedin(**notification: Any) -> dict[str, Any]:
    return {
        "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "notifications": [{**LINKEDIN_COMMENT, **notification}],
    }


LINKEDIN: dict[str, Any] = {
    "comment": _linkedin(),
    "like": _linkedin(notificationId=98766, action="LIKE", generatedActivity=None),
    "share": _linkedin(notificationId=98767, action="SHARE", generatedActivity="urn:li:share:999"),
    "mention": _linkedin(
        notificationId=98768, action="SHARE_MENTION", generatedActivity="urn:li:share:1000"
    ),
}


def _tiktok(event: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "client_key": "awxxxxxxxxxxxxxx",
        "event": event,
        "create_time": 1733490000,
        "user_openid": "act.example12345Example12345Example",
        "content": orjson.dumps(content).decode(),
    }


TIKTOK: dict[str, Any] = {
    "publish_complete": _tiktok(
        "post.publish.complete",
        {"publish_id": "v_pub_url~v2.123", "publish_type": "DIRECT_PUBLISH"},
    ),
    "publicly_available": _tiktok(
        "post.publish.publicly_available",
        {"publish_id": "v_pub_url~v2.123", "post_id": "7406164488431273222"},
    ),
    "publish_failed": _tiktok(
        "post.publish.failed", {"publish_id": "v_pub_url~v2.124", "reason": "spam_risk"}
    ),
    "upload_failed": _tiktok("video.upload.failed", {"share_id": "share.7406"}),
    "authorization_removed": _tiktok("authorization.removed", {"reason": 1}),
}

YOUTUBE_CHANNEL = "UCdemo00000000000000000a"


def youtube_feed(
    video_id: str = "dQw4w9WgXcQ",
    channel_id: str = YOUTUBE_CHANNEL,
    published: str = "2024-12-06T13:00:00+00:00",
    updated: str = "2024-12-06T13:00:05.123456+00:00",
    title: str = "Launch day",
) -> bytes:
    """A push as YouTube's hub sends it for a new or edited video (Atom, namespaces declared)."""
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">
 <link rel="hub" href="https://pubsubhubbub.appspot.com"/>
 <link rel="self" href="https://www.youtube.com/xml/feeds/videos.xml?channel_id={channel_id}"/>
 <title>YouTube video feed</title>
 <updated>{updated}</updated>
 <entry>
  <id>yt:video:{video_id}</id>
  <yt:videoId>{video_id}</yt:videoId>
  <yt:channelId>{channel_id}</yt:channelId>
  <title>{title}</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v={video_id}"/>
  <author><name>Brand</name><uri>https://www.youtube.com/channel/{channel_id}</uri></author>
  <published>{published}</published>
  <updated>{updated}</updated>
 </entry>
</feed>""".encode()


def youtube_deletion(video_id: str = "dQw4w9WgXcQ", channel_id: str = YOUTUBE_CHANNEL) -> bytes:
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:at="http://purl.org/atompub/tombstones/1.0" xmlns="http://www.w3.org/2005/Atom">
 <at:deleted-entry ref="yt:video:{video_id}" when="2024-12-07T09:00:00+00:00">
  <link href="https://www.youtube.com/watch?v={video_id}"/>
  <at:by><name>Brand</name><uri>https://www.youtube.com/channel/{channel_id}</uri></at:by>
 </at:deleted-entry>
</feed>""".encode()


YOUTUBE: dict[str, Any] = {
    "new_video": youtube_feed(),
    "edited_video": youtube_feed(updated="2024-12-08T10:00:00+00:00", title="Launch day (cut)"),
    "deleted_video": youtube_deletion(),
}


def _page_change(value: dict[str, Any], field: str = "feed") -> dict[str, Any]:
    """A Page webhook with one change: the documented comment sample's shape, another value."""
    return {
        "object": "page",
        "entry": [{"id": PAGE, "time": 1733490100, "changes": [{"field": field, "value": value}]}],
    }


_COMMENT = META["page_comment"]["entry"][0]["changes"][0]["value"]
# The documented verbs and items beyond the sample (`verb` also `edited`, `remove`; `item` also
# `reaction`), the Page's own message echoed back, and a field the catalog has no type for.
META.update(
    {
        "comment_edited": _page_change({**_COMMENT, "verb": "edited", "message": "Nicer!"}),
        "comment_removed": _page_change({**_COMMENT, "verb": "remove"}),
        "reaction_added": _page_change(
            {
                "item": "reaction",
                "verb": "add",
                "reaction_type": "like",
                "post_id": f"{PAGE}_555",
                "from": {"id": "4242", "name": "Jane"},
                "created_time": 1733490100,
            }
        ),
        "reaction_removed": _page_change(
            {
                "item": "reaction",
                "verb": "remove",
                "reaction_type": "like",
                "post_id": f"{PAGE}_555",
                "from": {"id": "4242", "name": "Jane"},
                "created_time": 1733490200,
            }
        ),
        "message_echo": {
            "object": "page",
            "entry": [
                {
                    "id": PAGE,
                    "time": 1733490100,
                    "messaging": [
                        {
                            "sender": {"id": PAGE},
                            "recipient": {"id": "6789"},
                            "timestamp": 1733490100000,
                            "message": {"mid": "m_def", "text": "hi!", "is_echo": True},
                        }
                    ],
                }
            ],
        },
        "unknown_field": _page_change({"id": "9090", "rating": 5}, field="ratings"),
    }
)
X.update(
    {
        "unfollow": {
            "for_user_id": X_USER,
            "follow_events": [{**X["follow"]["follow_events"][0], "type": "unfollow"}],
        },
        "direct_message_sent": {
            "for_user_id": X_USER,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "954491830116155397",
                    "created_timestamp": "1733490100000",
                    "message_create": {
                        "target": {"recipient_id": "4040"},
                        "sender_id": X_USER,
                        "message_data": {"text": "thanks"},
                    },
                }
            ],
        },
    }
)

SAMPLES: dict[str, dict[str, Any]] = {
    "meta": META,
    "x": X,
    "linkedin": LINKEDIN,
    "tiktok": TIKTOK,
    "youtube": YOUTUBE,
}
EXPECTED_TYPES: dict[str, dict[str, str]] = {
    "meta": {
        "page_comment": "comment.created",
        "instagram_comment": "comment.created",
        "message": "message.received",
        "comment_edited": "comment.updated",
        "comment_removed": "comment.deleted",
        "reaction_added": "reaction.created",
        "reaction_removed": "reaction.deleted",
        "message_echo": "message.sent",
        "unknown_field": "platform.event",
    },
    "x": {
        "mention": "mention.created",
        "reply": "comment.created",
        "own_tweet": "post.published",
        "favorite": "reaction.created",
        "follow": "follow.created",
        "direct_message": "message.received",
        "tweet_delete": "post.deleted",
        "unfollow": "follow.deleted",
        "direct_message_sent": "message.sent",
    },
    "linkedin": {
        "comment": "comment.created",
        "like": "reaction.created",
        "share": "share.created",
        "mention": "mention.created",
    },
    "tiktok": {
        "publish_complete": "post.sent",
        "publicly_available": "post.published",
        "publish_failed": "post.failed",
        "upload_failed": "post.failed",
        "authorization_removed": "integration.uninstalled",
    },
    "youtube": {
        "new_video": "video.published",
        "edited_video": "video.updated",
        "deleted_video": "video.deleted",
    },
}


def sample(provider: str, name: str) -> bytes:
    found = SAMPLES[provider][name]
    return found if isinstance(found, bytes) else orjson.dumps(found)


def signed_request(
    provider: str, secret: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The headers `provider`'s platform sends `body` with, signed with `secret`."""
    if provider == "meta":
        return {"X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body)}
    if provider == "x":
        return {"x-twitter-webhooks-signature": "sha256=" + hmac_base64(secret, body)}
    if provider == "linkedin":
        return {"X-LI-Signature": hmac_hex(secret, body)}
    if provider == "tiktok":
        stamp = str(int(time.time() if now is None else now))
        signature = hmac_hex(secret, f"{stamp}.".encode() + body)
        return {"TikTok-Signature": f"t={stamp},s={signature}"}
    if provider == "youtube":
        return {
            "X-Hub-Signature": "sha1=" + hmac_hex(secret, body, hashlib.sha1),
            "Content-Type": "application/atom+xml",
        }
    raise KeyError(provider)
