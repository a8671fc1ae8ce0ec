"""A worker whose key ring cannot open the configuration drops nothing (issue 23).

Before, such a worker took the subscription it could not open for a deleted one and committed
every task of it as "subscription deleted". Now it refuses to start with one line naming the key
id, or, meeting such a record while it runs, stops (exit code 78) without committing the tasks
it held; a worker with the right key ring then delivers every accepted webhook.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.config.key_check import EXIT_FOREIGN_KEY
from pipeline.config.keyring import new_key_entry
from pipeline.settings import Settings
from tests.integration.conftest import Stack, ingress_process, stack_settings, worker_process
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support.payloads import hootsuite_element
from tests.support.processes import Process, http_status, pipeline_env, wait_for
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration
OTHER_RING = new_key_entry("other")


def foreign_worker(settings: Settings, directory: Path, **env: str) -> subprocess.Popen[bytes]:
    """`pipeline worker` with a key ring of its own (or, given `PIPELINE_SECRET_KEYS=""`, none:
    a key generated into its own data dir), logging to `worker-foreign.log`."""
    environment = pipeline_env(settings, **{"PIPELINE_SECRET_KEYS": OTHER_RING, **env})
    if environment["PIPELINE_SECRET_KEYS"] == "":
        del environment["PIPELINE_SECRET_KEYS"]
    with (directory / "worker-foreign.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "worker"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def post_events(stack: Stack, instance: dict[str, Any], count: int) -> None:
    run = uuid.uuid4().hex[:6]
    for start in range(0, count, 50):
        batch = [
            hootsuite_element(f"{run}{n:05d}", "SENT", f"m{run}-{n}")
            for n in range(start, min(count, start + 50))
        ]
        status, _ = await stack.post(path_of(instance), orjson.dumps(batch))
        assert status == 202


async def delivered_once(receiver: Receiver, count: int, seconds: float) -> Counter[str]:
    """Wait until `count` distinct webhook-ids arrived; return how often each did."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while len({r.headers["webhook-id"] for r in receiver.received}) < count:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            await receiver.wait_for(len(receiver.received) + 1, timeout=remaining)
        except TimeoutError:
            break
    return Counter(r.headers["webhook-id"] for r in receiver.received)


@pytest.fixture
def ingress_only(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, tmp_path)
    ingress = ingress_process(settings, tmp_path).start()
    stack = Stack(settings, tmp_path, ingress, worker_process(settings, tmp_path))  # not started
    yield stack
    for process in (stack.worker, ingress):
        if process.popen is not None and process.popen.poll() is None:
            process.stop()


async def test_a_worker_that_cannot_open_the_subscription_refuses_to_start(
    ingress_only: Stack,
) -> None:
    stack = ingress_only
    receiver = await Receiver().start()
    try:
        instance = await new_instance(stack, "hootsuite")
        await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        await post_events(stack, instance, 100)

        foreign = foreign_worker(stack.settings, stack.directory)
        code = await asyncio.to_thread(foreign.wait, 60)
        log = (stack.directory / "worker-foreign.log").read_text()
        assert code == 2, log
        [line] = [line for line in log.splitlines() if line.startswith("error:")]
        assert "sealed with key 'test'" in line
        assert "PIPELINE_SECRET_KEYS" in line
        assert "ids ['other']" in line
        assert receiver.received == []

        stack.worker = worker_process(stack.settings, stack.directory).start()
        counts = await delivered_once(receiver, 100, seconds=90)
        assert len(counts) == 100, f"{len(counts)} of 100 delivered"
    finally:
        await receiver.stop()


async def test_a_running_worker_that_meets_a_foreign_seal_stops_and_commits_nothing(
    ingress_only: Stack,
) -> None:
    """It started before any configuration existed; the subscription arrives sealed with a key
    it lacks. It stops with code 78; what was accepted meanwhile reaches the subscriber once a
    worker with the right ring runs."""
    stack = ingress_only
    receiver = await Receiver().start()
    try:
        foreign = foreign_worker(stack.settings, stack.directory)
        web = f"http://127.0.0.1:{stack.settings.worker_web_port}/readyz"
        wait_for(lambda: http_status(web) == 200, "the foreign worker ready", 90)
        instance = await new_instance(stack, "hootsuite")
        await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        code = await asyncio.to_thread(foreign.wait, 60)
        log = (stack.directory / "worker-foreign.log").read_text()
        assert code == EXIT_FOREIGN_KEY, log
        assert "is sealed with key 'test'" in log
        assert "dropping delivery" not in log

        await post_events(stack, instance, 100)
        stack.worker = worker_process(stack.settings, stack.directory).start()
        counts = await delivered_once(receiver, 100, seconds=90)
        assert len(counts) == 100, f"{len(counts)} of 100 delivered"
    finally:
        await receiver.stop()


@pytest.fixture
def topics_only(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return stack_settings(kafka_bootstrap, tmp_path)


async def test_two_workers_on_one_machine_without_a_key_ring_do_not_diverge(
    topics_only: Settings, tmp_path: Path
) -> None:
    """The documented way (docs/how-to/operate.md): own data dirs, no PIPELINE_SECRET_KEYS. The
    second worker's generated key is not the first's: it refuses to start, naming the key; the
    first, killed under load and restarted, delivers every accepted webhook."""
    settings = topics_only
    no_ring = {"PIPELINE_SECRET_KEYS": ""}
    ingress = _process("ingress", settings, tmp_path, settings.ingress_port, no_ring).start()
    first = _process("worker", settings, tmp_path, settings.worker_web_port, no_ring).start()
    stack = Stack(settings, tmp_path, ingress, first)
    receiver = await Receiver().start()
    try:
        instance = await new_instance(stack, "hootsuite")
        await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        await post_events(stack, instance, 150)

        other_dir = tmp_path / "second-machine"
        second = foreign_worker(settings, tmp_path, PIPELINE_DATA_DIR=str(other_dir), **no_ring)
        await post_events(stack, instance, 150)
        code = await asyncio.to_thread(second.wait, 60)
        log = (tmp_path / "worker-foreign.log").read_text()
        assert code == 2, log
        assert "is sealed with key 'local-" in log
        assert "PIPELINE_SECRET_KEYS" in log

        assert stack.worker.stop(signal.SIGKILL) == -signal.SIGKILL
        await post_events(stack, instance, 150)
        stack.worker = _process(
            "worker", settings, tmp_path, settings.worker_web_port, no_ring
        ).start()
        await post_events(stack, instance, 150)
        counts = await delivered_once(receiver, 600, seconds=120)
        assert len(counts) == 600, f"{len(counts)} of 600 delivered"
    finally:
        await receiver.stop()
        stack.worker.stop()
        ingress.stop()


def _process(
    command: str, settings: Settings, directory: Path, port: int, env: dict[str, str]
) -> Process:
    environment = pipeline_env(settings, **env)
    if environment.get("PIPELINE_SECRET_KEYS") == "":
        del environment["PIPELINE_SECRET_KEYS"]
    return Process(command, environment, directory, f"http://127.0.0.1:{port}/readyz")
