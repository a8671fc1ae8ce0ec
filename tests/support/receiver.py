"""A subscriber endpoint on 127.0.0.1 that records every delivery and answers as told."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.processes import free_port

HANG = -1  # answer never (until the client gives up)


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what it was answered


@dataclass
class Receiver:
    """`answer(n)` gives the status for the n-th request (0-based); `HANG` never answers.
    `decide(request)`, when given, answers instead, from what was received."""

    answer: Callable[[int], int] = lambda n: 200
    decide: Callable[[Received], int] | None = None
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering: a slower subscriber
    received: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        number = len(self.received)
        received = Received(time.monotonic(), dict(request.headers), await request.read())
        self.received.append(received)
        async with self._arrived:
            self._arrived.notify_all()
        status = self.answer(number) if self.decide is None else self.decide(received)
        received.status = status
        if self.delay:
            await asyncio.sleep(self.delay)
        if status == HANG:
            await asyncio.Event().wait()
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        return web.Response(status=status, headers=headers)

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received
