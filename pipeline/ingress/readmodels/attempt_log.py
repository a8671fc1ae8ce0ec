"""`deliveries.attempts` → the latest attempts per subscription, for `GET …/attempts`.

Records are kept as they arrive, by their key (the subscription id), and decoded only when asked
for: the ingress follows every attempt the workers log, and reads few of them.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from typing import Any

import orjson

from pipeline.config.follower import TopicFollower

log = logging.getLogger(__name__)
KEPT_PER_SUBSCRIPTION = 1000


class AttemptLog:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._attempts: defaultdict[bytes, deque[tuple[int, bytes]]] = defaultdict(
            lambda: deque(maxlen=KEPT_PER_SUBSCRIPTION)
        )
        self.follower = TopicFollower(bootstrap, topic, self._consume)

    def latest(self, subscription_id: str) -> list[dict[str, Any]]:
        """Newest first."""
        found = []
        for offset, value in reversed(self._attempts.get(subscription_id.encode(), ())):
            try:
                found.append(orjson.loads(value))
            except orjson.JSONDecodeError:
                log.warning("skipping unreadable attempt record at offset %d", offset)
        return found

    def _consume(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if value is None:
            return
        if key is None:  # not written by a worker (they key by subscription): find the id inside
            try:
                key = str(orjson.loads(value)["subscription_id"]).encode()
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.exception("skipping unreadable attempt record at offset %d", offset)
                return
        self._attempts[key].append((offset, value))
