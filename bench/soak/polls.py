"""The Hootsuite side of the soak: the API simulator (`pipeline.simulators.hootsuite`) served from
the session's own event loop, and each round's messages going SCHEDULED → SENT during its load.

Hootsuite REST ◄──poll── `pipeline poller` ──► `polls.raw`. Each round schedules a few messages
due at moments spread over its load; the simulator sends them once due (checked every second),
so the poller sees each one change at least once (`post.sent`), whether or not it is being killed.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bench.children import free_port
from pipeline.simulators.hootsuite import SimulatorState, create_simulator

CLIENT_ID = "soak-poller-app"
CLIENT_SECRET = "soak-poller-secret"  # noqa: S105 - the simulator's own fake credential
ADVANCE_EVERY = 1.0  # seconds between the simulator's checks for due messages
FINAL_STATE = "SENT"


class PollSource:
    """The running simulator; `schedule` adds one round's messages."""

    def __init__(self) -> None:
        self.state = SimulatorState({CLIENT_ID: CLIENT_SECRET})
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._advancing: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> PollSource:
        self._runner = web.AppRunner(
            create_simulator(self.state), access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._advancing = asyncio.create_task(self._advance())
        return self

    async def _advance(self) -> None:
        while True:  # cancelled by `stop`, at the end of the session
            self.state.advance()
            await asyncio.sleep(ADVANCE_EVERY)

    async def stop(self) -> None:
        if self._advancing is not None:
            self._advancing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._advancing
        if self._runner is not None:
            await self._runner.cleanup()

    def schedule(self, count: int, begin: datetime, span: float, tag: str) -> list[str]:
        """`count` messages due at moments spread over [begin, begin + span]; their ids."""
        ids = []
        for number in range(count):
            due = begin + timedelta(seconds=span * (number + 0.5) / max(1, count))
            message = self.state.add_message(due, text=f"soak {tag} #{number}")
            ids.append(str(message["id"]))
        return ids

    def sent(self, ids: list[str]) -> list[str]:
        """Those of `ids` the simulator has sent by now."""
        return [i for i in ids if self.state.messages.get(i, {}).get("state") == FINAL_STATE]


def now_utc() -> datetime:
    return datetime.now(UTC)
