"""Expiry across a restart (issue 24): with a 4 s window, the dedup keys written before a worker
restart are gone from its on-disk table once two windows have passed, and those written after it
are kept. faust's windowed tables never expired keys that predate a restart."""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from rocksdict import AccessType, Options, Rdict

from tests.integration.conftest import Stack, ingress_process, stack_settings
from tests.integration.test_ingest import events_of, new_instance, path_of
from tests.support.payloads import hootsuite_element
from tests.support.processes import Process, pipeline_env, wait_for

pytestmark = pytest.mark.integration
WINDOW = 4.0


def worker(stack: Stack) -> Process:
    """A worker of `stack` with the short window (the stack's settings leave it default)."""
    settings = stack.settings
    env = pipeline_env(settings, PIPELINE_DEDUP_WINDOW=f"{WINDOW}s")
    ready = f"http://127.0.0.1:{settings.worker_web_port}/readyz"
    return Process("worker", env, stack.directory, ready)


@pytest.fixture
def short_window(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, tmp_path)
    ingress = ingress_process(settings, tmp_path).start()
    stack = Stack(settings, tmp_path, ingress, ingress)  # its worker is set on the next line
    stack.worker = worker(stack).start()
    yield stack
    for process in (stack.worker, ingress):
        if process.popen is not None and process.popen.poll() is None:
            process.stop()


def last_expiry(stack: Stack) -> float:
    url = f"http://127.0.0.1:{stack.settings.worker_web_port}/metrics"
    with urllib.request.urlopen(url, timeout=2) as response:
        text = response.read().decode()
    found = re.search(
        r'^pipeline_table_last_expiry_timestamp_seconds\{table="dedup"\} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def dedup_keys_on_disk(data_dir: Path) -> list[bytes]:
    keys: list[bytes] = []
    for path in sorted(data_dir.glob("faust/**/dedup-*.db")):
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            keys += [key for key in db.keys() if key[:1] == b"\x01"]  # noqa: SIM118 - rocksdict
        finally:
            db.close()
    return keys


async def test_keys_written_before_a_restart_expire_on_disk(short_window: Stack) -> None:
    stack = short_window
    instance = await new_instance(stack, "hootsuite")
    run = uuid.uuid4().hex[:8]
    before = [hootsuite_element(f"{run}1{n:03d}", "SENT", f"b{n}") for n in range(20)]
    assert (await stack.post(path_of(instance), orjson.dumps(before)))[0] == 202
    await events_of(stack, instance, 20)
    written_at = time.time()

    assert stack.worker.stop() == 0
    stack.worker = worker(stack).start()
    wait_for(
        lambda: last_expiry(stack) > written_at + 2 * WINDOW + 0.1,
        "an expiry run two windows after the first keys",
        60,
    )
    after = [hootsuite_element(f"{run}2{n:03d}", "SENT", f"a{n}") for n in range(5)]
    assert (await stack.post(path_of(instance), orjson.dumps(after)))[0] == 202
    await events_of(stack, instance, 25)
    assert stack.worker.stop() == 0

    keys = b"".join(dedup_keys_on_disk(stack.settings.data_dir))
    source = f"/instances/{instance['id']}".encode()
    assert keys.count(source) == 5, "only the keys written after the restart are left"
