"""`PIPELINE_INGRESS_PROCESSES=2`: two ingress processes on one port, one set of metrics.

Each member follows the configuration on its own: an instance created through one is accepted by
both. A member that dies is restarted by the parent while the other keeps answering; a parent
that dies takes its members with it (nothing keeps holding the port).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from pipeline.settings import Settings
from tests.integration.conftest import Stack, stack_settings
from tests.integration.test_ingest import new_instance, path_of
from tests.support.payloads import hootsuite_element
from tests.support.processes import Process, pipeline_env

pytestmark = pytest.mark.integration


def members_of(parent: int) -> list[int]:
    """The running child processes of `parent` (from /proc: field 4 of stat is the parent)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


async def _post_fresh(url: str, body: bytes) -> int:
    """One request on a new connection, so SO_REUSEPORT may hand it to either member."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(url, data=body) as response,
    ):
        return response.status


async def _post_retrying_reset(url: str, body: bytes) -> int:
    for _ in range(2):
        try:
            return await _post_fresh(url, body)
        except aiohttp.ClientOSError:
            continue
    return await _post_fresh(url, body)


async def _until(condition: object, seconds: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return stack_settings(kafka_bootstrap, tmp_path)  # topics of its own, on the shared broker


async def test_two_processes_share_the_port_the_configuration_and_the_metrics(
    settings: Settings, tmp_path: Path
) -> None:
    env = pipeline_env(settings, PIPELINE_INGRESS_PROCESSES="2")
    ready = f"http://127.0.0.1:{settings.ingress_port}/readyz"
    parent = Process("ingress", env, tmp_path, ready).start()
    assert parent.popen is not None
    try:
        stack = Stack(settings, tmp_path, parent, worker=parent)

        async def two_members() -> bool:
            return len(members_of(parent.popen.pid)) == 2  # type: ignore[union-attr]

        await _until(two_members, 30, "two members")
        first, second = members_of(parent.popen.pid)
        instance = await new_instance(stack, "hootsuite")
        url = stack.base_url + path_of(instance)
        sent = 0

        async def all_accept() -> bool:  # both members see the instance (each follows the topic)
            nonlocal sent
            body = orjson.dumps([hootsuite_element(f"p{sent}", "SENT")])
            statuses = [await _post_fresh(url, body) for _ in range(20)]
            sent += 1
            return statuses == [202] * 20

        await _until(all_accept, 30, "every request accepted")
        accepted = await _accepted(stack.base_url)
        for _ in range(5):  # whichever member answers /metrics reports the sum
            assert await _accepted(stack.base_url) == accepted
        assert accepted >= 20

        os.kill(first, signal.SIGKILL)

        async def first_gone() -> bool:  # its listening socket closed (queued connections reset)
            return not _alive(first)

        await _until(first_gone, 10, "the killed member gone")
        body = orjson.dumps([hootsuite_element("after-kill", "SENT")])
        # The other serves; a connection the kernel had handed to a listening socket that the
        # parent's replacement member is just opening or closing may be reset: a client retries it.
        assert [await _post_retrying_reset(url, body) for _ in range(10)] == [202] * 10

        async def replaced() -> bool:
            now = members_of(parent.popen.pid)  # type: ignore[union-attr]
            return len(now) == 2 and first not in now and second in now

        await _until(replaced, 30, "the killed member restarted")
        await _until(all_accept, 60, "the restarted member accepting")
    finally:
        members = members_of(parent.popen.pid)
        os.kill(parent.popen.pid, signal.SIGKILL)
        parent.popen.wait()

    async def members_gone() -> bool:
        return not any(_alive(pid) for pid in members)

    await _until(members_gone, 30, "members to die with their parent")


async def _accepted(base_url: str) -> float:
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(base_url + "/metrics") as response,
    ):
        text = await response.text()
    found = re.search(
        r'^pipeline_ingress_requests_total\{provider="hootsuite",status="202"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    assert found, text[:2000]
    return float(found.group(1))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
