"""The service follows `config.instances`: tasks start, restart and stop while it runs."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pipeline.config.instances import Instance
from pipeline.contract.headers import RecordHeaders
from pipeline.pollers import service as service_module
from pipeline.pollers.instance_loop import PollerContext
from pipeline.pollers.service import PollerService
from pipeline.pollers.state import state_key, state_record
from pipeline.settings import load_settings
from tests.unit.pollers.conftest import FakeWriter, make_instance, utcnow


class FakeProducer(FakeWriter):
    def __init__(self, bootstrap: str, *, process: str, headers: RecordHeaders) -> None:
        super().__init__()

    async def start(self) -> bool:
        return True

    async def stop(self) -> None:
        return None


class EveryShard:
    """A membership that owns every shard from the start, as a lone poller does."""

    def __init__(self, bootstrap: str, topic: str, group_id: str, on_revoked: Any) -> None:
        self.generation = 0
        self.on_revoked = on_revoked
        self.owning = True

    def owns(self, instance_id: str) -> bool:
        return self.owning

    def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclasses.dataclass
class Started:
    instance: Instance
    task: asyncio.Task[None] | None = None

    @property
    def cancelled(self) -> bool:
        return self.task is not None and self.task.cancelled()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Started]:
    """Every instance task the service starts, as a fake that polls nothing until cancelled."""
    runs: list[Started] = []

    async def fake_run_instance(instance: Instance, context: PollerContext) -> None:
        run = Started(instance, asyncio.current_task())
        runs.append(run)
        await asyncio.Event().wait()

    monkeypatch.setattr(service_module, "run_instance", fake_run_instance)
    monkeypatch.setattr(service_module, "DurableProducer", FakeProducer)
    monkeypatch.setattr(service_module, "ShardMembership", EveryShard)
    return runs


@pytest.fixture
async def service(tmp_path: Path, started: list[Started]) -> Any:
    poller = PollerService(load_settings(topic_prefix="unit.", data_dir=tmp_path))
    yield poller
    await poller.stop()


offsets = iter(range(10_000))


def configure(service: PollerService, instance: Instance | None, instance_id: str = "") -> None:
    """As if `config.instances` delivered this record (None: a tombstone)."""
    key = instance.id if instance else instance_id
    service._instances.apply(key, instance, next(offsets))


async def reconciled(service: PollerService) -> None:
    await service.reconcile()
    await asyncio.sleep(0)  # let started tasks run up to their first await


async def test_instances_are_started_restarted_on_change_and_stopped(
    service: PollerService, started: list[Started]
) -> None:
    configure(service, make_instance("inst_a", interval_seconds=5))
    configure(service, make_instance("inst_b"))
    configure(service, msgspec.structs.replace(make_instance("inst_c"), provider="oktopost"))
    await reconciled(service)
    assert sorted(run.instance.id for run in started) == ["inst_a", "inst_b"]

    configure(service, make_instance("inst_a", interval_seconds=30))
    await reconciled(service)
    assert [
        run.instance.polling["interval_seconds"] for run in started if run.instance.id == "inst_a"
    ] == [5, 30]
    assert [run.cancelled for run in started] == [True, False, False]

    configure(service, msgspec.structs.replace(make_instance("inst_b"), enabled=False))
    await reconciled(service)
    assert [run.cancelled for run in started] == [True, True, False]
    await reconciled(service)
    assert len(started) == 3  # an unchanged instance is left alone


async def test_a_deleted_instance_state_is_tombstoned(
    service: PollerService, started: list[Started]
) -> None:
    configure(service, make_instance("inst_gone"))
    await reconciled(service)
    state, producer = service._context.state, service._producer
    assert isinstance(producer, FakeProducer)
    key = state_key("inst_gone", "9001")
    record = state_record("inst_gone", "9001", "SCHEDULED", None, utcnow())
    state.apply(key, record, (await producer.send("pollers.state", key.encode(), b"{}")).offset)
    producer.clear()

    configure(service, None, "inst_gone")
    await reconciled(service)

    assert [(r.key, r.value) for r in producer.records] == [(key, None)]
    assert started[0].cancelled
    assert state.instance_ids() == set()


async def test_an_instance_that_cannot_be_read_pauses_but_its_state_is_kept(
    service: PollerService, started: list[Started]
) -> None:
    """Issue 23: unreadable is not deleted. Its polling stops (its credentials are unknown),
    its poll state is not tombstoned, and the poller is not ready until the record is readable."""
    configure(service, make_instance("inst_sealed"))
    await reconciled(service)
    state, producer = service._context.state, service._producer
    assert isinstance(producer, FakeProducer)
    key = state_key("inst_sealed", "9001")
    record = state_record("inst_sealed", "9001", "SCHEDULED", None, utcnow())
    state.apply(key, record, (await producer.send("pollers.state", key.encode(), b"{}")).offset)
    producer.clear()

    service._instances._consume(b"inst_sealed", b'{"id": "inst_sealed"}', next(offsets))
    await reconciled(service)

    assert producer.records == []
    assert started[0].cancelled
    assert state.instance_ids() == {"inst_sealed"}
    assert not await service.ready()
    configure(service, make_instance("inst_sealed"))
    await reconciled(service)
    assert len(started) == 2
    assert not started[1].cancelled


async def test_shards_taken_away_stop_their_tasks_and_new_ones_wait_for_the_views(
    service: PollerService, started: list[Started], monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    for view in service._views():
        name = view._follower.topic

        async def sync(name: str = name) -> None:
            synced.append(name)

        monkeypatch.setattr(view, "synced", sync)
    shards = service._shards
    assert isinstance(shards, EveryShard)
    configure(service, make_instance("inst_a"))
    await reconciled(service)
    assert [run.instance.id for run in started] == ["inst_a"]
    assert synced == []  # generation 0: nothing was handed over

    shards.owning = False  # the group takes our shards: the release stops the tasks first
    await shards.on_revoked()
    assert started[0].cancelled
    await reconciled(service)
    assert len(started) == 1

    shards.owning, shards.generation = True, 1  # shards given (back) to us
    await reconciled(service)
    assert len(synced) == 4  # every view read to its end before the instance is polled again
    assert [run.instance.id for run in started] == ["inst_a", "inst_a"]
    await reconciled(service)
    assert len(synced) == 4  # once per generation
