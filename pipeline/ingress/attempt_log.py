"""`deliveries.attempts` → the latest attempts per subscription, for `GET …/attempts`."""

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
        self._attempts: defaultdict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=KEPT_PER_SUBSCRIPTION)
        )
        self.follower = TopicFollower(bootstrap, topic, self._consume)

    def latest(self, subscription_id: str) -> list[dict[str, Any]]:
        """Newest first."""
        return list(reversed(self._attempts.get(subscription_id, ())))

    def _consume(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if value is None:
            return
        try:
            record = orjson.loads(value)
            self._attempts[str(record["subscription_id"])].append(record)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.exception("skipping unreadable attempt record at offset %d", offset)
