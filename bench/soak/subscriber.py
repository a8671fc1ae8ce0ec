"""The soak's subscriber, a process of its own: `python -m bench.soak.subscriber SPEC_JSON`.

deliver agents → `POST /hook` here, on each of the spec's ports (one per subscription: the worker
pools connections per host and port, so each subscription gets a pool of its own, as two
subscriber services would). Each request is answered, by a seeded draw, with 500 at once
(`fail_share`), with 200 after `slow_seconds` (`slow_share`: slow, but within the pipeline's
delivery timeout) or with 200 at once. Every answered request is logged with its arrival and
answer times (`time.monotonic()`, the clock every process on the machine shares), its
`webhook-id` and its status; the session reads the log with `GET /records?since=N`. A request
whose client went away still runs to its answer (aiohttp does not cancel handlers), as a real
subscriber would process it.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import web


@dataclass
class AnswerLog:
    """Every answered request so far, in columns, in the order they were answered."""

    arrived: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    webhook_ids: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@dataclass
class Behaviour:
    slow_share: float
    slow_seconds: tuple[float, float]
    fail_share: float
    draw: random.Random

    def choose(self) -> tuple[int, float]:
        """(status, seconds to wait before answering)."""
        roll = self.draw.random()
        if roll < self.fail_share:
            return 500, 0.0
        if roll < self.fail_share + self.slow_share:
            return 200, self.draw.uniform(*self.slow_seconds)
        return 200, 0.0


LOG = web.AppKey("log", AnswerLog)
BEHAVIOUR = web.AppKey("behaviour", Behaviour)


async def hook(request: web.Request) -> web.Response:
    arrived = time.monotonic()
    await request.read()
    status, wait = request.app[BEHAVIOUR].choose()
    if wait:
        await asyncio.sleep(wait)
    log = request.app[LOG]
    log.arrived.append(arrived)
    log.answered.append(time.monotonic())
    log.webhook_ids.append(request.headers.get("webhook-id", ""))
    log.statuses.append(status)
    return web.Response(status=status)


async def records(request: web.Request) -> web.Response:
    log = request.app[LOG]
    since = int(request.query.get("since", "0"))
    body = {
        "next": len(log.arrived),
        "arrived": log.arrived[since:],
        "answered": log.answered[since:],
        "webhook_ids": log.webhook_ids[since:],
        "statuses": log.statuses[since:],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(behaviour: Behaviour) -> web.Application:
    app = web.Application()
    app[LOG] = AnswerLog()
    app[BEHAVIOUR] = behaviour
    app.router.add_post("/hook", hook)
    app.router.add_get("/records", records)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str]) -> int:
    spec = orjson.loads(argv[0])
    behaviour = Behaviour(
        slow_share=float(spec["slow_share"]),
        slow_seconds=(float(spec["slow_seconds"][0]), float(spec["slow_seconds"][1])),
        fail_share=float(spec["fail_share"]),
        draw=random.Random(int(spec["seed"])),  # noqa: S311 - answer shape, not security
    )
    listening = []
    for port in spec["ports"]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(port)))
        listening.append(sock)
    web.run_app(create_app(behaviour), sock=listening, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
