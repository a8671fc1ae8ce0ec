"""A Kafka outage under steady load: every answer within the ack timeout + 1 s, 202 again in 2 s.

The broker is this test's own (stopping it disturbs no other test), the ingress a real subprocess,
and 50 webhooks/s keep arriving through the outage, as providers' retries would. Each request is
timed from when it was sent; the broker's stop and return are timed on the same clock.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import pytest

from pipeline.contract.topics import load_manifest
from pipeline.ops import local_kafka
from pipeline.ops.topics_apply import apply_topics
from pipeline.settings import load_settings
from tests.integration.conftest import Stack
from tests.integration.test_ingest import new_instance, path_of
from tests.support.kafka import read_topic
from tests.support.payloads import hootsuite_element
from tests.support.processes import Process, free_port, free_ports, pipeline_env

pytestmark = pytest.mark.integration

ACK_TIMEOUT = 2.0
RATE = 50.0  # webhooks/s, as in the report
OUTAGE_SECONDS = 8.0
RECOVERY_SECONDS = 2.0  # after the broker answers again, every request is accepted
AFTER_SECONDS = 6.0  # load kept up after the broker's return
LOOP_TICK = 0.02  # how often this test's own event loop checks that it is not held up


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[local_kafka.LocalKafka]:
    port, controller_port = free_ports(2)
    kafka = local_kafka.LocalKafka(
        home=tmp_path / "kafka", port=port, controller_port=controller_port
    )
    asyncio.run(local_kafka.start(kafka))
    yield kafka
    asyncio.run(local_kafka.stop(kafka))


@dataclass
class Answer:
    seq_no: str
    sent: float
    answered: float
    status: int  # 0: no answer at all


@dataclass
class Load:
    """Open-loop load: request i is sent at `begin + i / RATE` whatever earlier ones do."""

    url: str
    answers: list[Answer] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    lags: list[tuple[float, float]] = field(default_factory=list)  # (woke at, late by)

    def stalled(self, answer: Answer) -> float:
        """How long this test's own event loop was held up while `answer` was pending: time in
        which the ingress's answer could not be read (CI runs other tests on the same 2 cores)."""
        return sum(late for woke, late in self.lags if answer.sent < woke <= answer.answered)

    async def watch_loop(self) -> None:
        while not self.stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(LOOP_TICK)
            woke = time.monotonic()
            self.lags.append((woke, max(0.0, woke - before - LOOP_TICK)))

    async def run(self) -> None:
        watcher = asyncio.create_task(self.watch_loop())
        timeout = aiohttp.ClientTimeout(total=30)
        pending: set[asyncio.Task[None]] = set()
        connector = aiohttp.TCPConnector(limit=0)  # no client-side queue: each provider connects
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            begin, number = time.monotonic(), 0
            while not self.stop.is_set():
                await asyncio.sleep(max(0.0, begin + number / RATE - time.monotonic()))
                task = asyncio.create_task(self._one(session, f"s{number}"))
                pending.add(task)
                task.add_done_callback(pending.discard)
                number += 1
            if pending:
                await asyncio.wait(pending)
        await watcher

    async def _one(self, session: aiohttp.ClientSession, seq_no: str) -> None:
        body = orjson.dumps([hootsuite_element(seq_no, "SENT")])
        sent, status = time.monotonic(), 0
        try:
            async with session.post(self.url, data=body) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.answers.append(Answer(seq_no, sent, time.monotonic(), status))


async def test_outage_answers_within_the_ack_timeout_and_recovers_within_2_s(
    own_broker: local_kafka.LocalKafka, tmp_path: Path
) -> None:
    settings = load_settings(
        kafka_bootstrap=own_broker.bootstrap,
        data_dir=tmp_path / "data",
        ingress_port=free_port(),
        ingress_ack_timeout=str(ACK_TIMEOUT),
    )
    await apply_topics(settings.kafka_bootstrap, load_manifest(settings))
    env = pipeline_env(settings, PIPELINE_INGRESS_ACK_TIMEOUT=str(ACK_TIMEOUT))
    ready = f"http://127.0.0.1:{settings.ingress_port}/readyz"
    ingress = Process("ingress", env, tmp_path, ready).start()
    stack = Stack(settings, tmp_path, ingress, worker=ingress)  # no worker needed here
    try:
        instance = await new_instance(stack, "hootsuite")
        load = Load(stack.base_url + path_of(instance))
        running = asyncio.create_task(load.run())
        await _until(lambda: sum(a.status == 202 for a in load.answers) >= 50, 20)
        await local_kafka.stop(own_broker)
        stopped, cpu_before = time.monotonic(), _cpu_seconds(ingress)
        await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for a condition
        outage_cpu = _cpu_seconds(ingress) - cpu_before
        await local_kafka.start(own_broker)  # returns once a metadata request succeeds
        returned = time.monotonic()
        await asyncio.sleep(AFTER_SECONDS)  # load goes on after the return
        load.stop.set()
        await running
    finally:
        ingress.stop()
    _report(load.answers, stopped, returned)
    print(f"ingress CPU during the {OUTAGE_SECONDS:.0f} s outage: {outage_cpu:.2f} s")

    slowest = max(load.answers, key=lambda a: a.answered - a.sent - load.stalled(a))
    stalled = load.stalled(slowest)
    print(
        f"slowest answer {slowest.answered - slowest.sent:.2f} s, this loop held up {stalled:.2f} s"
    )
    assert slowest.answered - slowest.sent - stalled <= ACK_TIMEOUT + 1.0, slowest
    assert {a.status for a in load.answers} <= {202, 503}
    during = [a for a in load.answers if stopped <= a.sent and a.answered <= returned]
    assert during, "no request fell in the outage"
    assert {a.status for a in during} == {503}
    late = [a for a in load.answers if a.sent >= returned + RECOVERY_SECONDS]
    assert late
    refused = [a for a in late if a.status != 202]
    assert not refused, f"{len(refused)} of {len(late)} refused {RECOVERY_SECONDS} s after return"

    accepted = {a.seq_no for a in load.answers if a.status == 202}
    raw = await read_topic(
        settings.kafka_bootstrap,
        settings.topic("webhooks.raw"),
        until=lambda values: accepted <= _seq_nos(values),
    )
    assert accepted <= _seq_nos(raw), "a 202 whose record is not on webhooks.raw"


def _cpu_seconds(process: Process) -> float:
    assert process.popen is not None
    stat = Path(f"/proc/{process.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def _seq_nos(values: list[dict[str, object]]) -> set[str]:
    return {orjson.loads(base64.b64decode(str(v["body"])))[0]["seq_no"] for v in values}


async def _until(condition: object, seconds: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _report(answers: list[Answer], stopped: float, returned: float) -> None:
    """What `-s` shows: the answers per second around the outage (docs/reference/webhooks.md)."""
    first = min(a.sent for a in answers)
    print(f"\nbroker stopped at {stopped - first:.1f} s, back at {returned - first:.1f} s")
    for second in range(int(max(a.sent for a in answers) - first) + 1):
        bucket = [a for a in answers if second <= a.sent - first < second + 1]
        statuses = sorted({a.status for a in bucket})
        waits = max((a.answered - a.sent for a in bucket), default=0.0)
        print(f"  {second:3d} s: {len(bucket):3d} requests {statuses} longest wait {waits:.2f} s")
    recovered = [a.sent - returned for a in answers if a.sent >= returned and a.status == 202]
    if recovered:
        print(f"first 202 sent {min(recovered):.2f} s after the broker's return")
