"""The session's view of the receiver: every delivery so far, indexed by CloudEvent id."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiohttp
import orjson


@dataclass(frozen=True)
class Delivery:
    arrived: float
    webhook_id: str
    signed: bool


@dataclass
class Deliveries:
    """Fetches new records from the receiver process (`GET /records?since=N`)."""

    base_url: str
    by_event: dict[str, list[Delivery]] = field(default_factory=lambda: defaultdict(list))
    arrivals: list[float] = field(default_factory=list)  # every delivery, in arrival order
    total: int = 0
    last_arrival: float = 0.0

    async def set_secret(self, secret: str) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.put(f"{self.base_url}/secret", data=secret) as answer,
        ):
            answer.raise_for_status()

    async def refresh(self) -> int:
        """Fetch what arrived since the last call; returns how many new deliveries."""
        url = f"{self.base_url}/records?since={self.total}"
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            answer.raise_for_status()
            found = orjson.loads(await answer.read())
        columns = zip(
            found["arrived"], found["webhook_ids"], found["event_ids"], found["signed"], strict=True
        )
        for arrived, webhook_id, event_id, signed in columns:
            self.by_event[event_id].append(Delivery(arrived, webhook_id, signed))
            self.arrivals.append(arrived)
            self.last_arrival = max(self.last_arrival, arrived)
        added = int(found["next"]) - self.total
        self.total = int(found["next"])
        return added

    def delivered(self, event_ids: Iterable[str]) -> int:
        return sum(1 for event_id in event_ids if event_id in self.by_event)

    def arrivals_between(self, begin: float, end: float) -> list[float]:
        """Arrival times of deliveries of any event in [begin, end]: the worker's actual output."""
        first = bisect.bisect_left(self.arrivals, begin)
        return self.arrivals[first : bisect.bisect_right(self.arrivals, end)]

    def arrived_between(self, begin: float, end: float) -> int:
        return len(self.arrivals_between(begin, end))
