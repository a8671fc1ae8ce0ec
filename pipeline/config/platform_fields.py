"""The social platforms' instance fields, as the admin API takes them.

`verify_token` (Meta): the token Meta's verification GET must present (a secret: sealed on
Kafka, never shown). `channels` (YouTube): the channel ids whose feeds the WebSub manager
subscribes at the hub; `lease_seconds` (YouTube): the lease it asks the hub for.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.config.requests import RequestError, optional_text

# A YouTube channel id (`UC` + 22 characters) or a handle-like id: what a hub topic URL can carry
CHANNEL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MIN_LEASE_SECONDS = 10  # the hub may grant less than asked; shorter leases are for tests
MAX_LEASE_SECONDS = 10 * 24 * 3600  # the reference hub's longest lease


def platform_fields(
    body: dict[str, Any], provider: str, *, only_given: bool = False
) -> dict[str, Any]:
    """The platform fields of a create (all, defaulted) or PATCH body (those present)."""
    fields: dict[str, Any] = {}
    if "verify_token" in body or not only_given:
        fields["verify_token"] = optional_text(body, "verify_token")
        if fields["verify_token"] and provider != "meta":
            raise RequestError("verify_token", "is for meta instances only")
    if "channels" in body or not only_given:
        fields["channels"] = _channels(body.get("channels"))
        if fields["channels"] and provider != "youtube":
            raise RequestError("channels", "is for youtube instances only")
    if "lease_seconds" in body or not only_given:
        fields["lease_seconds"] = _lease(body.get("lease_seconds"))
    return fields


def _channels(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(channel, str) and CHANNEL_ID.fullmatch(channel) for channel in value
    ):
        raise RequestError("channels", "must be a list of channel ids (letters, digits, _ and -)")
    return list(dict.fromkeys(value))


def _lease(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError("lease_seconds", "must be an integer or null")
    if not MIN_LEASE_SECONDS <= value <= MAX_LEASE_SECONDS:
        raise RequestError(
            "lease_seconds", f"must be between {MIN_LEASE_SECONDS} and {MAX_LEASE_SECONDS}"
        )
    return value
