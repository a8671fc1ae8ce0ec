"""pipeline.aiokafka_fixes: a write on a closed uvloop transport is a broken connection,
aiokafka's metadata task outlives its failures, and a record's partition builds no sets. Each case
also runs on aiokafka's own code, which must get it wrong."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import uvloop
from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.cluster import ClusterMetadata
from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.structs import PartitionMetadata

from pipeline import aiokafka_fixes
from pipeline.aiokafka_fixes import (
    AIOKAFKA_MD_SYNCHRONIZER,
    AIOKAFKA_PARTITION,
    AIOKAFKA_SEND,
    partition_from_kept_lists,
    send_or_connection_error,
    surviving_md_synchronizer,
)
from pipeline.partitioner import partition_for
from pipeline.producer import DurableProducer
from pipeline.runtime.app import create_app
from pipeline.settings import load_settings


@pytest.mark.parametrize("fixed", [True, False])
def test_a_write_on_a_closed_uvloop_transport_is_a_broken_connection(fixed: bool) -> None:
    """What ended the metadata task in the soak's broker rounds: uvloop raised `RuntimeError`
    ("the handler is closed") from the write of a request on a connection the broker had closed,
    where aiokafka expects an `OSError`."""
    send = send_or_connection_error if fixed else AIOKAFKA_SEND

    async def request_on_a_closed_connection() -> tuple[BaseException, bool]:
        server = await asyncio.start_server(lambda _reader, _writer: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = AIOKafkaConnection("127.0.0.1", port)
        conn._reader, conn._writer = await asyncio.open_connection("127.0.0.1", port)
        conn._versions = {MetadataRequest.API_KEY: (0, 1)}
        conn._read_task = asyncio.ensure_future(asyncio.Event().wait())  # its reader, stalled
        conn._writer.close()  # the broker went away; aiokafka's reader has not noticed yet
        await conn._writer.wait_closed()
        try:
            send(conn, MetadataRequest([]))
        except Exception as exc:  # the test looks at what came out
            raised: BaseException = exc
        else:
            pytest.fail("the write on a closed transport was not refused")
        server.close()
        closed = conn._writer is None
        conn.close()
        return raised, closed

    raised, closed = uvloop.run(request_on_a_closed_connection())
    if fixed:
        assert isinstance(raised, KafkaConnectionError)
        assert "the handler is closed" in str(raised)
        assert closed  # the connection is dropped, so the next request makes a new one
    else:
        assert type(raised) is RuntimeError


@pytest.mark.parametrize("failure", [ValueError, asyncio.CancelledError])
@pytest.mark.parametrize("fixed", [True, False])
async def test_a_failed_metadata_task_is_started_again_and_answers_the_waits(
    fixed: bool, failure: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    """aiokafka's metadata task answers every wait for metadata (a coordinator lookup, offsets of
    a partition without a known leader); its update fails once. On aiokafka alone the wait never
    ends; with the fix the task is started again and answers it."""
    updates: list[str] = []

    async def update(cluster: Any, topics: Any) -> bool:
        updates.append("update")
        if len(updates) == 2:  # the second update, a forced one
            raise failure("a metadata response it could not apply")
        return True

    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=10)
    client._metadata_update = update  # type: ignore[method-assign]
    synchronizer = surviving_md_synchronizer if fixed else AIOKAFKA_MD_SYNCHRONIZER
    task = asyncio.ensure_future(synchronizer(client))
    try:
        await asyncio.wait_for(client.force_metadata_update(), 1)  # answered: the first update
        waiting = client.force_metadata_update()
        if not fixed:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(waiting, 1)
            assert task.done()
            assert task.cancelled() if failure is asyncio.CancelledError else task.exception()
            return
        assert await asyncio.wait_for(waiting, 1) is True
        assert not task.done()
        assert "aiokafka's metadata task" in caplog.text
        assert "starting it again" in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()  # its client's cancel still stops it


def test_every_process_that_talks_to_kafka_installs_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AIOKafkaConnection, "send", AIOKAFKA_SEND)
    monkeypatch.setattr(AIOKafkaClient, "_md_synchronizer", AIOKAFKA_MD_SYNCHRONIZER)
    monkeypatch.setattr(AIOKafkaProducer, "_partition", AIOKAFKA_PARTITION)
    DurableProducer("127.0.0.1:9", process="test", headers=None)  # type: ignore[arg-type]
    assert AIOKafkaConnection.send is send_or_connection_error
    assert AIOKafkaClient._md_synchronizer is surviving_md_synchronizer
    assert AIOKafkaProducer._partition is partition_from_kept_lists
    aiokafka_fixes.install()  # idempotent
    assert AIOKafkaConnection.send is send_or_connection_error


async def test_a_metadata_task_that_keeps_failing_backs_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Restarted after 10 ms, then 20, 40, 80 ms …: a task that fails at once, for good, does not
    fill the log with a traceback per retry backoff."""
    monkeypatch.setattr("pipeline.aiokafka_fixes.RESTART_DELAY_MAX_SECONDS", 0.2)
    failures: list[float] = []

    async def update(cluster: Any, topics: Any) -> bool:
        failures.append(asyncio.get_running_loop().time())
        raise ValueError("a metadata response it could not apply")

    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=10)
    client._metadata_update = update  # type: ignore[method-assign]
    client._md_update_waiter.set_result(None)  # a wait for metadata, so each run updates at once
    task = asyncio.ensure_future(surviving_md_synchronizer(client))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while len(failures) < 7:  # past the cap: 10, 20, 40, 80, 160, 200 ms
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    gaps = [later - earlier for earlier, later in pairwise(failures)]
    assert gaps[0] >= 0.009
    assert gaps[-1] >= 0.19  # doubled up to the cap
    assert gaps[-1] < 0.4  # and no further
    assert caplog.text.count("aiokafka's metadata task failed") == len(failures)


def test_the_worker_app_installs_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(AIOKafkaConnection, "send", AIOKAFKA_SEND)
    monkeypatch.setattr(AIOKafkaClient, "_md_synchronizer", AIOKAFKA_MD_SYNCHRONIZER)
    monkeypatch.setattr(AIOKafkaProducer, "_partition", AIOKAFKA_PARTITION)
    create_app(load_settings(data_dir=tmp_path, app_id="aiokafka-fixes-test"))
    assert AIOKafkaConnection.send is send_or_connection_error
    assert AIOKafkaClient._md_synchronizer is surviving_md_synchronizer
    assert AIOKafkaProducer._partition is partition_from_kept_lists


class CountingMetadata(ClusterMetadata):
    """aiokafka's cluster metadata, counting the partition sets it builds."""

    built = 0

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        self.built += 1
        return super().partitions_for_topic(topic)


def with_partitions(metadata: ClusterMetadata, topic: str, count: int, leaderless: int) -> None:
    """A metadata update of `topic`, as aiokafka applies one: a new partition map, whole."""
    metadata._partitions = {
        topic: {
            number: PartitionMetadata(
                topic, number, -1 if number == leaderless else 0, [], [], None
            )
            for number in range(count)
        }
    }


@pytest.mark.parametrize("fixed", [True, False])
def test_a_keyed_records_partition_builds_no_sets_per_record(fixed: bool) -> None:
    partition = partition_from_kept_lists if fixed else AIOKAFKA_PARTITION
    metadata = CountingMetadata()
    producer = SimpleNamespace(_metadata=metadata, _partitioner=partition_for)
    with_partitions(metadata, "t", 8, leaderless=5)
    keys = [f"subscription-{n}".encode() for n in range(200)]
    placed = [partition(producer, "t", None, key, None, key, b"{}") for key in keys]
    assert placed == [partition_for(key, list(range(8)), []) for key in keys]  # Kafka's placement
    assert partition(producer, "t", 3, None, None, b"k", b"{}") == 3  # given: kept as is
    with pytest.raises(AssertionError):
        partition(producer, "t", 8, None, None, b"k", b"{}")  # not a partition of the topic
    unkeyed = {partition(producer, "t", None, None, None, None, b"{}") for _ in range(300)}
    assert unkeyed == set(range(8)) - {5}  # a record without a key: a partition with a leader
    with_partitions(metadata, "t", 12, leaderless=-1)  # partitions added: the next update
    assert partition(producer, "t", None, b"k", None, b"k", b"{}") == partition_for(
        b"k", list(range(12)), []
    )
    if fixed:
        assert metadata.built == 0
    else:
        assert metadata.built >= 500  # a set (and then a list) for every record
