"""A stand-in for a WebSub hub (YouTube's is pubsubhubbub.appspot.com), over real HTTP.

`POST /subscribe` (form: `hub.callback`, `hub.topic`, `hub.mode`, `hub.lease_seconds`,
`hub.secret`) is answered 202 and verified as the hub does: a GET to the callback with
`hub.challenge`, which must come back as the body. A verified subscription holds until its lease
ends. `publish` pushes an Atom body to the topic's live subscribers, signed `X-Hub-Signature:
sha1=…` with each one's secret. `lease_seconds` set on the state overrides what is asked for (a
hub grants what it likes), so tests can watch short leases being renewed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Subscription:
    callback: str
    topic: str
    secret: str
    lease_seconds: int
    verified_at: float

    def live(self, now: float) -> bool:
        return now < self.verified_at + self.lease_seconds


@dataclass
class HubState:
    lease_seconds: int | None = None  # granted instead of what is asked for
    subscriptions: dict[tuple[str, str], Subscription] = field(default_factory=dict)
    requests: list[tuple[float, str, str]] = field(default_factory=list)  # (when, mode, topic)
    verified: list[tuple[float, str, str, int]] = field(default_factory=list)  # + lease
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def publish(self, topic: str, body: bytes) -> list[int]:
        """Push `body` to every live subscriber of `topic`; their answers' statuses."""
        statuses = []
        now = time.time()
        async with aiohttp.ClientSession() as session:
            for sub in [s for s in self.subscriptions.values() if s.topic == topic and s.live(now)]:
                signature = hmac.new(sub.secret.encode(), body, hashlib.sha1).hexdigest()
                headers = {
                    "Content-Type": "application/atom+xml",
                    "X-Hub-Signature": f"sha1={signature}",
                }
                async with session.post(sub.callback, data=body, headers=headers) as response:
                    statuses.append(response.status)
        return statuses


async def _verify(state: HubState, form: dict[str, str], lease: int) -> None:
    challenge = secrets.token_urlsafe(16)
    query = {
        "hub.mode": form["hub.mode"],
        "hub.topic": form["hub.topic"],
        "hub.challenge": challenge,
        "hub.lease_seconds": str(lease),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.get(form["hub.callback"], params=query) as response,
    ):
        confirmed = response.status == 200 and await response.text() == challenge
    key = (form["hub.callback"], form["hub.topic"])
    if not confirmed:
        return
    now = time.time()
    state.verified.append((now, form["hub.mode"], form["hub.topic"], lease))
    if form["hub.mode"] == "unsubscribe":
        state.subscriptions.pop(key, None)
    else:
        secret = form.get("hub.secret", "")
        state.subscriptions[key] = Subscription(key[0], key[1], secret, lease, now)


def create_hub(state: HubState) -> web.Application:
    async def subscribe(request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        if not all(form.get(k) for k in ("hub.callback", "hub.topic", "hub.mode")):
            return web.Response(status=400, text="hub.callback, hub.topic and hub.mode required")
        state.requests.append((time.time(), form["hub.mode"], form["hub.topic"]))
        asked = int(form.get("hub.lease_seconds") or 432000)
        task = asyncio.create_task(_verify(state, form, state.lease_seconds or asked))
        state._tasks.add(task)
        task.add_done_callback(state._tasks.discard)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/subscribe", subscribe)
    return app
