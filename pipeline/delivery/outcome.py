"""deliver agent: one HTTP attempt's result → what happens next (done, retry, disable, refuse).

`410 Gone` is the subscriber saying "stop"; `429`/`503` may say when to come back (`Retry-After`),
which is honoured up to a cap so that one subscriber cannot park a delivery for days. Everything
else, transport errors and timeouts included, is retried on the retry schedule.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.http.retry_after import parse_retry_after


class OutcomeKind(enum.Enum):
    """What the deliver agent does with the event after this attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DISABLE = "disable"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The classified result of one delivery attempt."""

    kind: OutcomeKind
    status_code: int | None
    retry_after: float | None
    error: str | None


_HONOURS_RETRY_AFTER = frozenset({429, 503})


def classify(
    status: int | None,
    headers: Mapping[str, str] | None,
    error: str | None,
    *,
    retry_after_cap: float,
    now: float | None = None,
) -> Outcome:
    """Classify an attempt; `now` (epoch seconds) is for tests of HTTP-date `Retry-After`."""
    if status is not None and 200 <= status <= 299:
        return Outcome(OutcomeKind.DELIVERED, status, None, None)
    if status == 410:
        return Outcome(OutcomeKind.DISABLE, status, None, error)
    retry_after = None
    if status in _HONOURS_RETRY_AFTER and headers is not None:
        value = _header(headers, "retry-after")
        seconds = None if value is None else parse_retry_after(value, now=now)
        retry_after = None if seconds is None else min(seconds, retry_after_cap)
    return Outcome(OutcomeKind.RETRY, status, retry_after, error)


def status_class(status: int | None) -> str:
    """A bounded metrics label: "2xx" … "5xx", "none" for no response, "other" for odd codes."""
    if status is None:
        return "none"
    if 100 <= status <= 599:
        return f"{status // 100}xx"
    return "other"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Header names are case-insensitive but a plain Mapping is not.
    return next((value for key, value in headers.items() if key.lower() == name), None)
