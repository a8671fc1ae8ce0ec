"""SIGKILL under load, one process kind at a time: every webhook answered 202 is still delivered.

Oktopost webhooks (one event each) go in at a fixed rate to a subscriber on 127.0.0.1 while one
process is killed and, where it is not redundant, restarted. The figures each test prints (how many
were accepted, delivered and repeated) are the ones quoted in docs/explanation/guarantees.md and
the issue notes; the soak (`make soak`) repeats this many times over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from pipeline.ops import local_kafka
from pipeline.runtime.stall import EXIT_STALLED
from tests.integration.conftest import (
    Stack,
    ingress_process,
    stack_settings,
    worker_process,
)
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support import topic_cleanup
from tests.support.payloads import hex_hmac, oktopost_body
from tests.support.processes import Process, free_port, free_ports, pipeline_env
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration
SECRET = "oktopost-issued-secret"
RATE = 100.0  # webhooks per second
COUNT = 900
KILL_AFTER = 300  # webhooks sent before the kill
# A stall exit takes the stall timeout and its grace period; the restart then has this long more.
STALL_ALLOWANCE = 120.0


class Load:
    """Sends COUNT signed Oktopost webhooks at RATE; remembers the ids answered 202."""

    def __init__(self, stack: Stack, instance: dict[str, object]) -> None:
        self.stack = stack
        self.path = path_of(instance)  # type: ignore[arg-type]
        self.run = uuid.uuid4().hex[:8]
        self.accepted: set[str] = set()
        self.refused = 0

    async def send(self, at_kill: Callable[[], object]) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            started = time.monotonic()
            pending = []
            for n in range(COUNT):
                await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
                if n == KILL_AFTER:
                    await asyncio.get_running_loop().run_in_executor(None, at_kill)
                pending.append(asyncio.ensure_future(self._one(session, n)))
            await asyncio.gather(*pending)

    async def _one(self, session: aiohttp.ClientSession, n: int) -> None:
        webhook = f"{self.run}-{n}"
        body = oktopost_body("postSent", {"postId": webhook}, webhookId=webhook)
        headers = {"X-Oktopost-Signature": hex_hmac(SECRET, body)}
        try:
            url = self.stack.base_url + self.path
            async with session.post(url, data=body, headers=headers) as response:
                if response.status == 202:
                    self.accepted.add(webhook)
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        self.refused += 1


def delivered_posts(receiver: Receiver) -> Counter[str]:
    """How often each post id reached the subscriber, by distinct webhook-id."""
    import orjson  # noqa: PLC0415 - local to the helper that parses bodies

    seen: dict[str, str] = {}
    for request in receiver.received:
        seen[request.headers["webhook-id"]] = orjson.loads(request.body)["data"]["post_id"]
    return Counter(seen.values())


async def all_delivered(
    receiver: Receiver, load: Load, within: float, stack: Stack | None = None
) -> None:
    """Wait until every accepted webhook has reached the subscriber. With `stack`, its worker is
    supervised as `pipeline run` and orchestrators do: if its stall watchdog ends it (exit 70, the
    designed answer to a partition nothing consumes), it is started again, and the wait is extended
    by the time that takes. How often that happened is printed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if load.accepted <= set(delivered_posts(receiver)):
            return
        if stack is not None and await restarted_if_stalled(stack):
            deadline += STALL_ALLOWANCE
        await asyncio.sleep(0.2)
    missing = sorted(load.accepted - set(delivered_posts(receiver)))
    raise AssertionError(
        f"{len(missing)} of {len(load.accepted)} accepted webhooks undelivered, "
        f"among them {', '.join(missing[:5])}"
    )


async def restarted_if_stalled(stack: Stack) -> bool:
    popen = stack.worker.popen
    if popen is None or popen.poll() != EXIT_STALLED:
        return False
    print(f"the worker's stall watchdog ended it:\n{stack.worker.log_tail(12)}\nrestarting it")
    replacement = worker_process(stack.settings, stack.directory)
    # off the loop: the subscriber this test runs answers on it meanwhile
    stack.worker = await asyncio.get_running_loop().run_in_executor(None, replacement.start)
    return True


def report(what: str, load: Load, receiver: Receiver) -> None:
    repeats = Counter(r.headers["webhook-id"] for r in receiver.received)
    print(
        f"{what}: {len(load.accepted)} accepted, {load.refused} refused, "
        f"{len(delivered_posts(receiver))} delivered, "
        f"{sum(n - 1 for n in repeats.values())} repeated webhook-ids"
    )


async def prepared(stack: Stack) -> tuple[Load, Receiver]:
    receiver = await Receiver().start()
    instance = await new_instance(stack, "oktopost", signing_secret=SECRET)
    await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
    return Load(stack, instance), receiver


@pytest.fixture
def fresh_stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, tmp_path)
    stack = Stack(
        settings,
        tmp_path,
        ingress_process(settings, tmp_path).start(),
        worker_process(settings, tmp_path).start(),
    )
    yield stack
    stack.worker.stop()
    stack.ingress.stop()


def second_worker(stack: Stack) -> Process:
    """Another worker of the same app: own web port and rocksdb directory, same group."""
    settings = stack.settings.model_copy(
        update={"worker_web_port": free_port(), "data_dir": stack.directory / "data-2"}
    )
    url = f"http://127.0.0.1:{settings.worker_web_port}/readyz"
    return Process("worker", pipeline_env(settings), stack.directory, url).start()


async def test_killing_one_of_two_workers_loses_nothing(fresh_stack: Stack) -> None:
    load, receiver = await prepared(fresh_stack)
    peer = second_worker(fresh_stack)
    try:
        await load.send(lambda: peer.stop(signal.SIGKILL))
        await all_delivered(receiver, load, within=120, stack=fresh_stack)
        report("one of two workers killed", load, receiver)
    finally:
        peer.stop(signal.SIGKILL)
        await receiver.stop()


async def test_killing_the_ingress_loses_nothing_it_accepted(fresh_stack: Stack) -> None:
    load, receiver = await prepared(fresh_stack)

    def kill_and_restart() -> None:
        fresh_stack.ingress.stop(signal.SIGKILL)
        fresh_stack.ingress = ingress_process(fresh_stack.settings, fresh_stack.directory).start()

    try:
        await load.send(kill_and_restart)
        assert load.refused < COUNT - KILL_AFTER, "the restarted ingress accepted nothing"
        await all_delivered(receiver, load, within=90, stack=fresh_stack)
        report("ingress killed", load, receiver)
    finally:
        await receiver.stop()


@pytest.fixture
def own_broker_stack(tmp_path: Path) -> Iterator[tuple[Stack, local_kafka.LocalKafka]]:
    """A broker of this test's own (killing it disturbs no other test) and a stack on it."""
    port, controller_port = free_ports(2)
    kafka = local_kafka.LocalKafka(
        home=tmp_path / "kafka", port=port, controller_port=controller_port
    )
    asyncio.run(local_kafka.start(kafka))
    settings = stack_settings(kafka.bootstrap, tmp_path)
    stack = Stack(
        settings,
        tmp_path,
        ingress_process(settings, tmp_path).start(),
        worker_process(settings, tmp_path).start(),
    )
    yield stack, kafka
    stack.worker.stop()
    stack.ingress.stop()
    asyncio.run(local_kafka.stop(kafka))
    topic_cleanup.forget(kafka.bootstrap)  # its topics are in tmp_path, with its broker


async def test_killing_the_broker_loses_nothing_accepted(
    own_broker_stack: tuple[Stack, local_kafka.LocalKafka],
) -> None:
    stack, kafka = own_broker_stack
    load, receiver = await prepared(stack)

    def kill_and_restart() -> None:
        pid = kafka.running_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while kafka.running_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        asyncio.run(local_kafka.start(kafka))

    try:
        await load.send(kill_and_restart)
        assert load.accepted, "nothing was accepted"
        await all_delivered(receiver, load, within=150, stack=stack)
        report("broker killed", load, receiver)
    finally:
        await receiver.stop()
