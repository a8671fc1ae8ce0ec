"""Per-instance limit at the ingress: one instance flooding does not delay another's webhooks.

Instance A is limited to 2 webhooks/s (burst 2) and floods the ingress with 100 batches of 50
events; instance B, unlimited, sends 10 single events meanwhile. A's excess is answered 429 with
`Retry-After` and never reaches `webhooks.raw`, so the worker has little of A's to get through
before B's: unlimited, A's 5,000 events would take the single worker tens of seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import orjson
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support.kafka import read_topic
from tests.support.payloads import hootsuite_element
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

RATE, BURST = 2, 2
FLOOD_REQUESTS, FLOOD_BATCH = 100, 50
OTHER_EVENTS = 10


def _batch(size: int) -> bytes:
    return orjson.dumps(
        [
            hootsuite_element(str(uuid.uuid4().int % 10**15), "SENT", uuid.uuid4().hex)
            for _ in range(size)
        ]
    )


async def _flood(session: aiohttp.ClientSession, url: str) -> list[tuple[int, str | None]]:
    gate = asyncio.Semaphore(20)

    async def one() -> tuple[int, str | None]:
        async with gate, session.post(url, data=_batch(FLOOD_BATCH)) as response:
            await response.read()
            return response.status, response.headers.get("Retry-After")

    return await asyncio.gather(*(one() for _ in range(FLOOD_REQUESTS)))


async def _trickle(session: aiohttp.ClientSession, url: str) -> list[tuple[int, float]]:
    sent = []
    for _ in range(OTHER_EVENTS):
        async with session.post(url, data=_batch(1)) as response:
            await response.read()
            sent.append((response.status, time.monotonic()))
        await asyncio.sleep(0.1)  # paced sender, not a wait for a condition
    return sent


async def test_one_instance_flooding_does_not_delay_another(stack: Stack) -> None:
    flooded_receiver, other_receiver = await Receiver().start(), await Receiver().start()
    try:
        flooding = await new_instance(stack, "hootsuite", max_requests_per_second=RATE, burst=BURST)
        other = await new_instance(stack, "hootsuite")
        assert flooding["max_requests_per_second"] == RATE
        await subscribe(stack, flooded_receiver.url, instance_ids=[flooding["id"]])
        await subscribe(stack, other_receiver.url, instance_ids=[other["id"]])
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            flood, trickle = await asyncio.gather(
                _flood(session, stack.base_url + path_of(flooding)),
                _trickle(session, stack.base_url + path_of(other)),
            )
        elapsed = time.monotonic() - started

        accepted = [status for status, _ in flood if status == 202]
        limited = [after for status, after in flood if status == 429]
        assert len(accepted) + len(limited) == FLOOD_REQUESTS
        assert 1 <= len(accepted) <= BURST + RATE * elapsed + 1
        assert all(after is not None and int(after) >= 1 for after in limited)
        assert [status for status, _ in trickle] == [202] * OTHER_EVENTS

        got = await other_receiver.wait_for(OTHER_EVENTS, timeout=20)
        # B's events all reached their subscriber within seconds of the last being accepted.
        lag = max(r.at for r in got) - trickle[-1][1]
        assert lag < 10, lag
        await flooded_receiver.wait_for(len(accepted) * FLOOD_BATCH, timeout=20)

        raw = await read_topic(
            stack.settings.kafka_bootstrap,
            stack.topic("webhooks.raw"),
            until=lambda values: (
                sum(v["instance_id"] == other["id"] for v in values) >= OTHER_EVENTS
            ),
        )
        # Nothing refused was written: the topic holds exactly the accepted requests.
        assert sum(v["instance_id"] == flooding["id"] for v in raw) == len(accepted)
    finally:
        await flooded_receiver.stop()
        await other_receiver.stop()
