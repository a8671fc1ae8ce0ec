"""An instance's limit on webhooks in: `max_requests_per_second` and `burst`, as the API takes them.

Read by the ingress (`pipeline.ingress.rate_limit`) before a verified webhook is written to
`webhooks.raw`, so one instance flooding cannot fill the topic the worker shares among all.
Not to be confused with `polling.max_requests_per_second`, the poller's pace towards a provider.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.config.requests import RequestError

LIMIT_KEYS = ("max_requests_per_second", "burst")


def limit_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The limit fields present in a create or PATCH body, validated (null removes a limit)."""
    fields: dict[str, Any] = {}
    if "max_requests_per_second" in body:
        rate = body["max_requests_per_second"]
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < math.inf
        ):
            raise RequestError("max_requests_per_second", "must be a positive number or null")
        fields["max_requests_per_second"] = None if rate is None else float(rate)
    if "burst" in body:
        burst = body["burst"]
        if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int)):
            raise RequestError("burst", "must be a positive integer or null")
        if burst is not None and burst < 1:
            raise RequestError("burst", "must be a positive integer or null")
        fields["burst"] = burst
    return fields


def burst_of(rate: float, burst: int | None) -> float:
    """The bucket size: the given burst, else one second's worth (at least one request)."""
    return float(burst) if burst is not None else max(1.0, math.ceil(rate))
