"""The overrides of aiokafka 0.14.0 the pipeline relies on, installed by `install` (idempotent) in
every process that talks to Kafka: the worker (`pipeline.runtime.faust_fixes.PipelineApp`, so under
faust's consumer and producers too) and each `pipeline.producer.DurableProducer`. Each has a test
in tests/unit/test_aiokafka_fixes.py that fails on aiokafka's own code.

- A write on a closed connection is a broken connection, also under uvloop. aiokafka's
  `AIOKafkaConnection.send` takes an `OSError` from the write for one, and closes the connection;
  uvloop (which runs every process here) raises `RuntimeError("unable to perform operation on
  <TCPTransport closed=True …>; the handler is closed")` instead, which no caller expects. Its
  first known victim is below; any of aiokafka's routines that send (the coordinator's, the
  fetcher's) can end the same way. Here that error closes the connection and becomes aiokafka's
  `KafkaConnectionError`, which every caller retries.
- aiokafka's metadata task is started again when it ends. Each client runs one task
  (`_md_synchronizer`) that answers every wait for fresh metadata: a group-coordinator lookup,
  offsets of a partition whose leader is unknown. An exception ends it (it catches only
  `KafkaError` and timeouts), and so does a `CancelledError` it did not ask for; the client keeps
  the ended task without a word, and every later wait hangs. Seen in 5 of 12 broker rounds of
  `make soak` (a worker's consumer wedged: its coordinator lookup, commits, heartbeats and
  end-offset requests all waiting for metadata, nothing consumed, the broker back for minutes,
  until the stall watchdog ended it), the task ended by the uvloop error above.
  aio-libs/aiokafka#712 and its open PR #1108 describe waits for metadata that never end after
  network trouble. Here the failure is logged with its traceback, counted
  (`pipeline_kafka_metadata_task_restarts_total`) and the task started again after the client's
  retry backoff (doubled, up to 10 s, while it keeps failing); its next update answers the waits
  it left.
- A keyed record's partition without new sets and lists per record (CPU only). aiokafka's
  `AIOKafkaProducer._partition` builds the topic's partitions as a set and then a list, and the
  partitions with a leader the same way, for every record it sends (and a set for the check of
  a record whose partition is given): about 2 % of a busy worker's CPU. Here both lists are
  built once per metadata update of the topic (aiokafka replaces a topic's partition map on
  each update, never changes one in place, so the map's identity says when to rebuild).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError

from pipeline import metrics

log = logging.getLogger(__name__)

RESTART_DELAY_MAX_SECONDS = 10.0

# aiokafka's own, kept for the tests that show what they get wrong
AIOKAFKA_SEND = AIOKafkaConnection.send
AIOKAFKA_MD_SYNCHRONIZER = AIOKafkaClient._md_synchronizer
AIOKAFKA_PARTITION = AIOKafkaProducer._partition


def install() -> None:
    """Install the overrides for every aiokafka client and connection of the process."""
    AIOKafkaConnection.send = send_or_connection_error
    AIOKafkaClient._md_synchronizer = surviving_md_synchronizer
    AIOKafkaProducer._partition = partition_from_kept_lists


def send_or_connection_error(
    conn: AIOKafkaConnection, request: Any, expect_response: bool = True
) -> Awaitable[Any]:
    """aiokafka's `send`; a write a closed transport refused is a broken connection."""
    try:
        return AIOKAFKA_SEND(conn, request, expect_response)  # type: ignore[no-any-return]
    except RuntimeError as exc:
        writer = conn._writer
        if writer is None or not writer.transport.is_closing():
            raise
        conn.close(reason=CloseReason.CONNECTION_BROKEN, exc=exc)
        raise KafkaConnectionError(f"Connection at {conn.host}:{conn.port} broken: {exc}") from exc


async def surviving_md_synchronizer(client: AIOKafkaClient) -> None:
    """aiokafka's metadata task, started again each time it ends unasked: after the client's
    retry backoff, doubled for each failure that follows the last one within
    `RESTART_DELAY_MAX_SECONDS` (a task that fails at once, for good, logs one traceback per
    that many seconds, not ten a second)."""
    delay = client._retry_backoff
    while True:
        started = time.monotonic()
        try:
            await AIOKAFKA_MD_SYNCHRONIZER(client)
        except asyncio.CancelledError:
            running = asyncio.current_task()
            if running is None or running.cancelling():
                raise  # its client stops it
            # Not cancelled itself: a cancelled future under it ended it all the same.
            _restarting("cancelled from within")
        except Exception:
            _restarting("failed")
        else:
            return
        waited = client._md_update_fut
        if waited is not None and waited.done():  # answered: a new wait needs a new future
            client._md_update_fut = None
        if time.monotonic() - started > RESTART_DELAY_MAX_SECONDS:  # it had run well
            delay = client._retry_backoff
        await asyncio.sleep(delay)
        delay = min(delay * 2, RESTART_DELAY_MAX_SECONDS)


def _restarting(how: str) -> None:
    log.exception("aiokafka's metadata task %s; starting it again", how)
    metrics.KAFKA_METADATA_TASK_RESTARTS.inc()


def partition_from_kept_lists(  # noqa: PLR0917 - aiokafka's signature
    producer: Any,
    topic: str,
    partition: int | None,
    key: Any,
    value: Any,
    serialized_key: bytes | None,
    serialized_value: bytes | None,
) -> int:
    """aiokafka's `_partition`, with the topic's partition lists kept until its next metadata
    update."""
    current = producer._metadata._partitions.get(topic)  # partition → PartitionMetadata
    if current is None:  # unknown topic: aiokafka's own code says so
        return AIOKAFKA_PARTITION(  # type: ignore[no-any-return]
            producer, topic, partition, key, value, serialized_key, serialized_value
        )
    kept: dict[str, tuple[Any, list[int], list[int]]] | None = getattr(
        producer, "_pipeline_partition_lists", None
    )
    if kept is None:
        kept = producer._pipeline_partition_lists = {}
    lists = kept.get(topic)
    if lists is None or lists[0] is not current:
        every = sorted(current)
        led = [number for number in every if current[number].leader != -1]
        lists = kept[topic] = (current, every, led)
    if partition is not None:
        if partition < 0 or partition not in current:
            raise AssertionError("Unrecognized partition")  # aiokafka's assertion
        return partition
    return producer._partitioner(serialized_key, lists[1], lists[2])  # type: ignore[no-any-return]
