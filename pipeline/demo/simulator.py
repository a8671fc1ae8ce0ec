"""`pipeline simulator`: the Hootsuite API simulator with a steady trickle of demo messages,
Oktopost's webhooks API under `/oktopost`, and a YouTube WebSub hub under `/websub`.

A new message is scheduled every few seconds and sent once due, so a poller watching the demo
instance sees `post.scheduled` then `post.sent` without any Hootsuite account. Each round also
pushes an Oktopost `postSent` to the webhooks the managed demo instance registered, and a new
video of the demo channel to the hub's subscribers (the demo YouTube instance, once the poller has
subscribed it and the ingress has answered the hub's verification).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from pipeline.providers.youtube import feed_topic
from pipeline.simulators import oktopost
from pipeline.simulators.hootsuite import SimulatorState, create_simulator
from pipeline.simulators.social import YOUTUBE_CHANNEL, youtube_feed
from pipeline.simulators.websub import HubState, create_hub
from pipeline.web import serve_until_signal

log = logging.getLogger(__name__)
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"  # noqa: S105 - the simulator's own fake credential
DEMO_OKTOPOST_ACCOUNT = "00A000000000demo"
DEMO_OKTOPOST_API_KEY = "demo-oktopost-api-key"  # the simulator's own fake credential
OKTOPOST_PATH = "/oktopost"
WEBSUB_PATH = "/websub"
NEW_MESSAGE_EVERY = 10.0
SEND_AFTER = timedelta(seconds=15)


async def _trickle(state: SimulatorState, okto: oktopost.OktopostState, hub: HubState) -> None:
    number = 0
    while True:
        number += 1
        state.add_message(datetime.now(UTC) + SEND_AFTER, text=f"Demo post #{number}")
        state.advance()
        sent_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        okto.emit(
            "postSent", {"postId": f"0PSdemo{number}", "network": "LinkedIn", "sentAt": sent_at}
        )
        now = datetime.now(UTC).isoformat()
        video = youtube_feed(f"demo{number}", published=now, updated=now, title=f"Demo #{number}")
        with suppress(aiohttp.ClientError, OSError):  # the ingress may not be up yet
            await hub.publish(feed_topic(YOUTUBE_CHANNEL), video)
        await asyncio.sleep(NEW_MESSAGE_EVERY)


async def run_demo_simulator(host: str, port: int) -> None:
    state = SimulatorState({DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    okto = oktopost.OktopostState({DEMO_OKTOPOST_ACCOUNT: DEMO_OKTOPOST_API_KEY})
    app = create_simulator(state)
    app.add_subapp(OKTOPOST_PATH, oktopost.create_simulator(okto))
    hub = HubState()
    app.add_subapp(WEBSUB_PATH, create_hub(hub))

    async def trickle(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_trickle(state, okto, hub))
        yield
        task.cancel()

    app.cleanup_ctx.append(trickle)
    await serve_until_signal(app, host, port, "Hootsuite simulator")
