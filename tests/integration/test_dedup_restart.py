"""Dedup holds across a worker restart: the table is rocksdb + changelog, not process memory."""

from __future__ import annotations

import shutil

import orjson
import pytest

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
