"""The session's copy of the soak subscriber's log (`GET /records?since=N`), by webhook-id."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import aiohttp
import orjson

from bench.soak.accounting import Answer


@dataclass
class SubscriberLog:
    ports: list[int]  # the subscriber listens on each; the log is served on all
    answers: list[Answer] = field(default_factory=list)  # in the order they were answered
    by_webhook: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))
    total: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def hook_url(self, number: int) -> str:
        """The callback URL of the `number`-th subscription (0-based)."""
        return f"http://127.0.0.1:{self.ports[number % len(self.ports)]}/hook"

    async def refresh(self) -> int:
        """Fetch what was answered since the last call; returns how many new answers."""
        url = f"{self.base_url}/records?since={self.total}"
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as reply:
            reply.raise_for_status()
            found = orjson.loads(await reply.read())
        columns = zip(
            found["arrived"],
            found["answered"],
            found["webhook_ids"],
            found["statuses"],
            strict=True,
        )
        for arrived, answered, webhook_id, status in columns:
            answer = Answer(float(arrived), float(answered), int(status))
            self.answers.append(answer)
            self.by_webhook[str(webhook_id)].append(answer)
        added = int(found["next"]) - self.total
        self.total = int(found["next"])
        return added

    def delivered(self, webhook_id: str) -> bool:
        return any(answer.ok for answer in self.by_webhook.get(webhook_id, ()))
