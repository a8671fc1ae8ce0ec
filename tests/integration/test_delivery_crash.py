"""SIGKILL the worker in the middle of 1,000 deliveries: every event still arrives."""

from __future__ import annotations

import signal
import uuid
from collections import Counter

import orjson
import pytest

from tests.integration.conftest import Stack, worker_process
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support.payloads import hootsuite_element
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration
EVENTS = 1000


async def test_a_killed_worker_loses_no_delivery(stack: Stack) -> None:
    receiver = await Receiver(delay=0.02).start()
    try:
        instance = await new_instance(stack, "hootsuite")
        await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        run = uuid.uuid4().hex[:6]
        for batch in range(EVENTS // 100):
            elements = [
                hootsuite_element(f"{run}{batch:03d}{n:03d}", "SENT", f"m{batch}-{n}")
                for n in range(100)
            ]
            status, _ = await stack.post(path_of(instance), orjson.dumps(elements))
            assert status == 202

        await receiver.wait_for(200, timeout=60)
        assert stack.worker.stop(signal.SIGKILL) == -signal.SIGKILL
        at_kill = len(receiver.received)
        stack.worker = worker_process(stack.settings, stack.directory).start()

        def distinct() -> int:
            return len({r.headers["webhook-id"] for r in receiver.received})

        deadline_reached = False
        try:
            while distinct() < EVENTS:
                await receiver.wait_for(len(receiver.received) + 1, timeout=90)
        except TimeoutError:
            deadline_reached = True
        ids = Counter(r.headers["webhook-id"] for r in receiver.received)
        repeated = sum(count - 1 for count in ids.values())
        print(
            f"killed after {at_kill} deliveries; {len(ids)} distinct of {EVENTS} delivered, "
            f"{repeated} repeated webhook-ids ({len(receiver.received)} requests)"
        )
        assert not deadline_reached, f"only {distinct()} of {EVENTS} events were delivered"
        assert len(ids) == EVENTS
        assert {orjson.loads(r.body)["type"] for r in receiver.received} == {"post.sent"}
    finally:
        await receiver.stop()
