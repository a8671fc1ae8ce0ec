"""`Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, as seconds from now.

Read by delivery (a subscriber's 429/503) and by the Hootsuite client (the provider's 429).
"""

from __future__ import annotations

import time
from datetime import UTC
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """Seconds to wait (never negative); None if malformed. `now` is epoch seconds, for tests."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    # HTTP-dates are GMT; `-0000` parses as a naive datetime, which must not be taken as local time.
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)
