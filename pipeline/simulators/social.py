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

SAMPLES: dict[str, dict[str, Any]] = {"meta": META}
EXPECTED_TYPES: dict[str, dict[str, str]] = {
    "meta": {
        "page_comment": "comment.created",
        "instagram_comment": "comment.created",
        "message": "message.received",
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
