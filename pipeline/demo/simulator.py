"""`pipeline simulator`: the Hootsuite API simulator with a steady trickle of demo messages, and
Oktopost's webhooks API under `/oktopost`.

A new message is scheduled every few seconds and sent once due, so a poller watching the demo
instance sees `post.scheduled` then `post.sent` without any Hootsuite account. Each round also
pushes an Oktopost `postSent` to the webhooks the managed demo instance registered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aiohttp import web

from pipeline.simulators import oktopost
from pipeline.simulators.hootsuite import SimulatorState, create_simulator
from pipeline.web import serve_until_signal

log = logging.getLogger(__name__)
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"  # noqa: S105 - the simulator's own fake credential
DEMO_OKTOPOST_ACCOUNT = "00A000000000demo"
DEMO_OKTOPOST_API_KEY = "demo-oktopost-api-key"  # the simulator's own fake credential
OKTOPOST_PATH = "/oktopost"
NEW_MESSAGE_EVERY = 10.0
SEND_AFTER = timedelta(seconds=15)


async def _trickle(state: SimulatorState, okto: oktopost.OktopostState) -> None:
    number = 0
    while True:
        number += 1
        state.add_message(datetime.now(UTC) + SEND_AFTER, text=f"Demo post #{number}")
        state.advance()
        sent_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        okto.emit(
            "postSent", {"postId": f"0PSdemo{number}", "network": "LinkedIn", "sentAt": sent_at}
        )
        await asyncio.sleep(NEW_MESSAGE_EVERY)


async def run_demo_simulator(host: str, port: int) -> None:
    state = SimulatorState({DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    okto = oktopost.OktopostState({DEMO_OKTOPOST_ACCOUNT: DEMO_OKTOPOST_API_KEY})
    app = create_simulator(state)
    app.add_subapp(OKTOPOST_PATH, oktopost.create_simulator(okto))

    async def trickle(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_trickle(state, okto))
        yield
        task.cancel()

    app.cleanup_ctx.append(trickle)
    await serve_until_signal(app, host, port, "Hootsuite simulator")
