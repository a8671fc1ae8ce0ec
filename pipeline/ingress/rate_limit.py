"""Ingress: each instance's webhooks-in limit, a token bucket per instance in this process.

A verified webhook takes one token before it is written to `webhooks.raw`; an instance out of
tokens is answered `429` with `Retry-After` (whole seconds until the next token), and nothing is
written, so one instance's flood neither fills the topic nor the worker's queue for the others.
Buckets live in the process: with `PIPELINE_INGRESS_PROCESSES=N` each process allows the rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pipeline.config.ingress_limit import burst_of
from pipeline.config.instances import Instance


class RateLimiter:
    """`admit(instance)` → None when admitted, else the seconds to wait for the next token."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # id → (tokens, when counted)

    def admit(self, instance: Instance) -> float | None:
        rate = instance.max_requests_per_second
        if rate is None:
            return None
        capacity = burst_of(rate, instance.burst)
        now = self._clock()
        tokens, then = self._buckets.get(instance.id, (capacity, now))
        # A changed limit applies at once: the bucket never holds more than the current burst.
        tokens = min(capacity, tokens + (now - then) * rate)
        if tokens >= 1.0:
            self._buckets[instance.id] = (tokens - 1.0, now)
            return None
        self._buckets[instance.id] = (tokens, now)
        return (1.0 - tokens) / rate


def retry_after(wait: float) -> str:
    """The `Retry-After` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))
