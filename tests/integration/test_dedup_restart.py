"""Dedup holds across a worker restart: the table is rocksdb + changelog, not process memory."""

from __future__ import annotations

import shutil

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.health import partitions_of
from tests.integration.conftest import Stack, worker_process
from tests.integration.test_ingest import events_of, new_instance, path_of
from tests.support.payloads import hex_hmac, hootsuite_element, oktopost_body

pytestmark = pytest.mark.integration


async def test_resends_after_a_worker_restart_add_no_events(stack: Stack) -> None:
    oktopost = await new_instance(stack, "oktopost", signing_secret="k")
    hootsuite = await new_instance(stack, "hootsuite")
    body = oktopost_body("postSent")
    signed = {"X-Oktopost-Signature": hex_hmac("k", body)}
    batch = orjson.dumps([hootsuite_element("9100", "SENT"), hootsuite_element("9101", "SENT")])

    assert (await stack.post(path_of(oktopost), body, signed))[0] == 202
    assert (await stack.post(path_of(hootsuite), batch))[0] == 202
    await events_of(stack, oktopost, 1)
    await events_of(stack, hootsuite, 2)

    stack.restart_worker()  # same data dir: rocksdb state survives
    assert (await stack.post(path_of(oktopost), body, signed))[0] == 202
    assert (await stack.post(path_of(hootsuite), batch))[0] == 202
    assert len(await events_of(stack, oktopost, 1, settle=4.0)) == 1
    assert len(await events_of(stack, hootsuite, 2, settle=1.0)) == 2


async def test_dedup_recovers_from_the_changelog_when_local_state_is_lost(stack: Stack) -> None:
    """A worker on a new machine (empty data dir) rebuilds the table from Kafka."""
    instance = await new_instance(stack, "hootsuite")
    batch = orjson.dumps([hootsuite_element("9200", "SCHEDULED")])
    assert (await stack.post(path_of(instance), batch))[0] == 202
    await events_of(stack, instance, 1)

    assert stack.worker.stop() == 0
    shutil.rmtree(stack.settings.data_dir / "faust")
    stack.worker = worker_process(stack.settings, stack.directory).start()
    assert (await stack.post(path_of(instance), batch))[0] == 202
    assert len(await events_of(stack, instance, 1, settle=4.0)) == 1


async def test_batched_dedup_keys_stay_in_their_source_partition(stack: Stack) -> None:
    """Records of many instances (partitions) back to back: every dedup key must land in the
    changelog partition of the record it came from (faust co-partitioning)."""
    instances = [await new_instance(stack, "hootsuite") for _ in range(8)]
    for number, instance in enumerate(instances):  # back to back: one or two batches
        batch = orjson.dumps([hootsuite_element(f"93{number:03d}", "SENT")])
        assert (await stack.post(path_of(instance), batch))[0] == 202
    for instance in instances:
        await events_of(stack, instance, 1)
    bootstrap = stack.settings.kafka_bootstrap
    sources = await _partitions_by_key(bootstrap, stack.topic("webhooks.raw"))
    changelog = await _partitions_by_key(bootstrap, f"{stack.settings.app_id}-dedup-changelog")
    for instance in instances:
        [source_partition] = sources[instance["id"]]
        written = {
            p for key, ps in changelog.items() if f"/instances/{instance['id']} " in key for p in ps
        }
        assert written == {source_partition}, instance["id"]


async def _partitions_by_key(bootstrap: str, topic: str) -> dict[str, set[int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, set[int]] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    found.setdefault(record.key.decode(errors="replace"), set()).add(
                        record.partition
                    )
    finally:
        await consumer.stop()
    return found
