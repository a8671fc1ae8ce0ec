"""Waiting with deadlines, never fixed sleeps: the warm-up before a round's load, and the drain
after it, until every accepted event is accounted for.

The drain ends
- `complete`: every expected event delivered (2xx at the subscriber) or dead, and every message
  the simulator sent seen on `polls.raw`;
- `idle`: the worker group has committed everything on its source topics, and has for `settle`
  seconds (longer than the last retry delay plus the delivery timeout): nothing more will come,
  so what is missing is missing for good;
- `deadline`: still busy (or stalled) after `drain` seconds.
A pipeline process that exits on its own meanwhile is restarted, and named in the round's figures.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench.payloads import Mix, WebhookFactory
from bench.soak.evidence import dead_webhook_ids, polled_states
from bench.soak.polls import FINAL_STATE
from bench.soak.session import ACCEPTED, RoundState, Session
from pipeline.contract.topics import Topic

WARM_UP_REQUESTS = 4
WARM_UP_WITHIN = 120.0
POLL_EVERY = 1.0


async def warm_up(session: Session, number: int) -> dict[str, object]:
    """A few webhooks (not counted) until they are delivered: the pipeline works end to end."""
    routes, log = session.routes, session.stack.subscriber
    instances = routes.instances
    instance_of = {
        instances.oktopost_path: instances.oktopost_id,
        instances.hootsuite_path: instances.hootsuite_id,
    }
    factory = WebhookFactory(instances, Mix(duplicate_share=0.0), f"{session.tag}w{number}", number)
    requests = [factory.next() for _ in range(WARM_UP_REQUESTS)]
    began = time.monotonic()
    deadline = began + WARM_UP_WITHIN
    waiting: set[str] = set()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        while requests and time.monotonic() < deadline:
            request = requests[0]
            try:
                url = session.stack.base_url + request.path
                async with client.post(url, data=request.body, headers=request.headers) as reply:
                    status = reply.status
            except (aiohttp.ClientError, OSError):
                status = 0
            if status != ACCEPTED:
                await asyncio.sleep(POLL_EVERY)
                continue
            requests.pop(0)
            instance = instance_of[request.path]
            waiting.update(routes.webhook_id(instance, e) for e in request.event_ids)
    while time.monotonic() < deadline:
        await log.refresh()
        waiting = {wid for wid in waiting if not log.delivered(wid)}
        if not waiting and not requests:
            return {"ok": True, "seconds": round(time.monotonic() - began, 1)}
        await asyncio.sleep(POLL_EVERY / 2)
    return {"ok": False, "seconds": round(time.monotonic() - began, 1)}


async def _missing(session: Session, state: RoundState) -> int:
    """Expected events neither delivered nor dead, plus sent messages not seen polled."""
    topics, log = session.topics, session.stack.subscriber
    await log.refresh()
    records = await topics.read(state.start, [Topic.POLLS_RAW, Topic.DELIVERIES_DEAD])
    state.accept_polls(session, records)
    dead = dead_webhook_ids(records)
    missing = sum(
        1
        for e in state.expected.values()
        if e.webhook_id not in dead and not log.delivered(e.webhook_id)
    )
    polled = polled_states(records)
    sent = session.stack.polls.sent(state.messages)
    return missing + sum(1 for m in sent if (m, FINAL_STATE) not in polled)


async def drain(session: Session, state: RoundState) -> tuple[str, float]:
    config, topics = session.config, session.topics
    began = time.monotonic()
    idle_since: float | None = None
    while True:
        state.exited += await session.stack.ensure_running()
        missing = await _missing(session, state)
        now = time.monotonic()
        if missing == 0:
            return "complete", round(now - began, 1)
        if now - began >= config.drain:
            return "deadline", round(now - began, 1)
        if await topics.lag(session.stack.settings.app_id) == 0:
            idle_since = idle_since if idle_since is not None else now
            if now - idle_since >= session.settle:
                return "idle", round(now - began, 1)
        else:
            idle_since = None
        await asyncio.sleep(POLL_EVERY)
