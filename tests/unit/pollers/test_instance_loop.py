"""One instance's task: its schedule, and how cycle outcomes reach health and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from pipeline.config.instances import Instance
from pipeline.config.keyring import new_key_entry, parse_key_ring
from pipeline.config.view import CompactedView
from pipeline.pollers.credentials import CredentialStore, credentials_decoder
from pipeline.pollers.instance_health import HealthBoard, decode_health
from pipeline.pollers.instance_loop import PollerContext, every, run_instance
from pipeline.pollers.state import PollerStateView
from pipeline.simulators.hootsuite import SimulatorState, create_simulator
from tests.unit.pollers.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    TOPICS,
    FakeWriter,
    make_instance,
)

RING = parse_key_ring(new_key_entry("test"))


class StopLoopError(Exception):
    pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.started: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def action(clock: FakeClock, durations: list[float]) -> Callable[[], Any]:
    async def run() -> None:
        if not durations:
            raise StopLoopError
        clock.started.append(clock.now)
        clock.now += durations.pop(0)

    return run


async def test_cycles_start_on_a_fixed_cadence() -> None:
    clock = FakeClock()
    with pytest.raises(StopLoopError):
        await every(10, action(clock, [2, 3, 1]), clock=clock.clock, sleep=clock.sleep)
    assert clock.started == [0, 10, 20]


async def test_an_overrun_is_followed_at_once_but_missed_slots_are_not_made_up() -> None:
    clock = FakeClock()
    lag_before = REGISTRY.get_sample_value(
        "pipeline_poller_lag_seconds_sum", {"provider": "hootsuite"}
    )
    with pytest.raises(StopLoopError):
        await every(10, action(clock, [25, 1, 1]), clock=clock.clock, sleep=clock.sleep)
    assert clock.started == [0, 25, 35]
    lag_after = REGISTRY.get_sample_value(
        "pipeline_poller_lag_seconds_sum", {"provider": "hootsuite"}
    )
    assert (lag_after or 0) - (lag_before or 0) == 15


class KafkaSwitch:
    """Stands in for the service's Kafka probe."""

    def __init__(self) -> None:
        self.up = True

    async def ready(self) -> bool:
        return self.up


@pytest.fixture
def kafka() -> KafkaSwitch:
    return KafkaSwitch()


@pytest.fixture
def context(writer: FakeWriter, poller_state: PollerStateView, kafka: KafkaSwitch) -> PollerContext:
    return PollerContext(
        writer=writer,
        state=poller_state,
        health=CompactedView("127.0.0.1:1", TOPICS.instances_health, decode_health),
        board=HealthBoard(),
        topics=TOPICS,
        credentials=CredentialStore(
            writer,
            TOPICS.pollers_credentials,
            CompactedView("127.0.0.1:1", TOPICS.pollers_credentials, credentials_decoder(RING)),
            RING,
        ),
        kafka_ready=kafka.ready,
    )


@pytest.fixture
async def running(context: PollerContext) -> AsyncIterator[Callable[[Instance], None]]:
    tasks: list[asyncio.Task[None]] = []

    def start(instance: Instance) -> None:
        tasks.append(asyncio.create_task(run_instance(instance, context)))

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def polls(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "pipeline_poller_polls_total", {"provider": "hootsuite", "outcome": outcome}
    )
    return value or 0.0


def health_of(writer: FakeWriter) -> list[tuple[str, str | None]]:
    return [(r.value["status"], r.value["reason"]) for r in writer.on(TOPICS.instances_health)]


async def test_a_good_cycle_writes_snapshots_then_marks_the_instance_healthy(
    running: Callable[[Instance], None],
    writer: FakeWriter,
    provider: SimulatorState,
    provider_url: str,
) -> None:
    ok_before = polls("ok")
    provider.add_message(datetime.now(UTC))

    running(make_instance(api_base_url=provider_url, interval_seconds=1))
    await until(lambda: bool(writer.on(TOPICS.instances_health)))

    topics = [r.topic for r in writer.records]
    assert topics == [TOPICS.polls_raw, TOPICS.pollers_state, TOPICS.instances_health]
    assert health_of(writer) == [("healthy", None)]
    assert polls("ok") - ok_before == 1


async def test_no_poll_reaches_the_provider_while_kafka_is_away(
    running: Callable[[Instance], None],
    writer: FakeWriter,
    provider: SimulatorState,
    provider_url: str,
    kafka: KafkaSwitch,
) -> None:
    provider.add_message(datetime.now(UTC))
    kafka.up = False
    skipped_before = polls("kafka_unavailable")

    running(make_instance(api_base_url=provider_url, interval_seconds=1))
    await until(lambda: polls("kafka_unavailable") - skipped_before >= 2)
    assert sum(provider.requests.values()) == 0
    kafka.up = True
    await until(lambda: bool(writer.on(TOPICS.instances_health)))

    assert writer.records[0].topic == TOPICS.polls_raw
    assert provider.requests["messages"] == 1


async def test_a_refused_client_secret_marks_it_unhealthy_and_it_keeps_trying(
    running: Callable[[Instance], None],
    writer: FakeWriter,
    provider: SimulatorState,
    provider_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials = {"client_id": CLIENT_ID, "client_secret": "revoked-secret-value"}
    instance = make_instance(api_base_url=provider_url, interval_seconds=1, credentials=credentials)
    running(instance)
    await until(lambda: provider.requests["token"] >= 2)  # retried on the next interval

    assert health_of(writer) == [("unhealthy", "auth_failed")]
    assert "revoked-secret-value" not in caplog.text + str(writer.records)


async def test_unusable_settings_mark_it_unhealthy_and_end_the_task(
    context: PollerContext, writer: FakeWriter
) -> None:
    await asyncio.wait_for(run_instance(make_instance(states="SENT"), context), 5)

    assert health_of(writer) == [("unhealthy", "bad_config")]
    assert "polling.states" in writer.records[0].value["message"]
    assert REGISTRY.get_sample_value("pipeline_poller_instances", {"health": "unhealthy"}) == 1


async def test_a_hanging_provider_only_delays_its_own_instance(
    running: Callable[[Instance], None],
    writer: FakeWriter,
    provider: SimulatorState,
    provider_url: str,
) -> None:
    hanging = SimulatorState({CLIENT_ID: CLIENT_SECRET})
    hanging.hang_seconds = 2.0  # the server waits for it on close, so kept short
    async with TestServer(create_simulator(hanging), host="127.0.0.1") as server:
        running(make_instance("inst_hanging", api_base_url=str(server.make_url(""))))
        running(make_instance(api_base_url=provider_url, interval_seconds=1))
        await until(lambda: provider.requests["messages"] >= 2, seconds=1.9)
        assert hanging.requests["messages"] == 0  # still waiting for its first token
        assert all(r.key != "inst_hanging" for r in writer.records)


async def test_a_failed_run_is_followed_by_its_backoff_instead_of_the_next_slot() -> None:
    clock = FakeClock()
    retries: list[float | None] = [3.0, 1.5, None, None]

    async def run() -> float | None:
        if not retries:
            raise StopLoopError
        clock.started.append(clock.now)
        clock.now += 2
        return retries.pop(0)

    with pytest.raises(StopLoopError):
        await every(10, run, clock=clock.clock, sleep=clock.sleep)
    # Back-offs count from the end of the failed run; a good run goes back to the cadence.
    assert clock.started == [0, 5, 8.5, 18.5]


async def test_a_failing_instance_logs_once_backs_off_and_logs_its_recovery(
    running: Callable[[Instance], None],
    provider: SimulatorState,
    provider_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = {"client_id": CLIENT_ID, "client_secret": "rotated-away-secret"}
    instance = make_instance(api_base_url=provider_url, interval_seconds=4, credentials=credentials)
    started = time.monotonic()
    running(instance)
    await until(lambda: provider.requests["token"] >= 3)  # refused at once: no in-cycle retry
    # 1st retry after 0.5-1 s, 2nd after 1-2 s: backed off, yet well within the 4 s interval.
    assert 1.5 <= time.monotonic() - started < 4.0
    provider.clients[CLIENT_ID] = "rotated-away-secret"  # the provider accepts it again
    await until(lambda: provider.requests["messages"] >= 1)
    await until(lambda: any("recovered" in r.getMessage() for r in caplog.records))

    mine = [r for r in caplog.records if instance.id in r.getMessage()]
    warnings = [r.getMessage() for r in mine if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "is failing: auth_failed: token request refused: HTTP 401" in warnings[0]
    assert "rotated-away-secret" not in caplog.text
