"""Baseline `bare_flow` (issue 25): the worker's record flow written plainly on aiokafka and
aiohttp, without faust; a process of its own:

    python -m bench.drains.bare_flow SPEC.json OUT.json

`webhooks.raw` (the backlog, read from its start by a group of its own) → per poll (`getmany`):
the pipeline's own `normalize_webhook` → drop the events whose key is in a dict → each new event
to `events.normalized`, its delivery tasks (`new_task`, one per matching subscription) to
`deliveries`, dead letters to `events.invalid` → one gather of the batch's acks → the keys marked
seen → commit. Beside it, `deliveries` → per poll: each task's body rendered and signed as the
deliver agent does (`render`, `delivery_headers`: Standard Webhooks) and POSTed through one
aiohttp ClientSession, at most `delivery_concurrency` requests in flight and
`delivery_concurrency_per_subscription` per subscription (the worker's bounds for one tier) →
its attempt record to `deliveries.attempts` and, on 2xx, its webhook-id to the delivered table's
changelog (the "delivered mark", as faust writes it: the key and its time bucket as JSON) → one
gather of acks → commit. Produced records carry the manifest's headers, as the worker's `Writer`
adds them.

Its topics are the manifest's under a prefix of its own (`topic_prefix` in the spec's settings),
created at start, so it runs beside a pipeline's topics on the same broker.

What it skips, so that it measures the design's Python limit rather than being a second pipeline:
the subscriptions come in the spec, secrets in clear (no `config.subscriptions` view, no sealing);
a failed attempt is logged on `deliveries.attempts` and counted, never retried, deferred or
dead-lettered (no retry tiers, no 410 handling); a task waits for a slot rather than being
deferred; no destination check per attempt (the bench allows private destinations); the dedup and
delivered sets are dicts in memory (no rocksdb, no expiry, no recovery, and no changelog for the
dedup set, which the worker writes once per new event); no `polls.raw`, metrics or web page; no
guard around its input (a record it cannot decode ends it: the backlog is the ingress's, the
tasks its own).
On uvloop, as the worker. Runs until SIGTERM, or until `stop_after` deliveries succeeded; then
writes its counts (`FlowCounts`) to OUT.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.drains.bare_steps import (
    Delivering,
    FlowCounts,
    FlowSpec,
    Normalizing,
    Output,
    delivered_changelog,
)
from bench.peers.stage import until_terminated
from pipeline.contract.changelogs import changelog_specs
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic, load_manifest
from pipeline.delivery.sender import USER_AGENT
from pipeline.delivery.tasks import decode_task
from pipeline.events.catalog import Catalog
from pipeline.ops.topics_apply import apply_topics
from pipeline.settings import Settings

log = logging.getLogger("bench.bare_flow")
BATCH_LIMIT = 500  # records per poll, as the worker's `BATCH_LIMIT`
POLL_MS = 200
# The manifest topics it writes or reads; the delivered changelog comes beside them.
FLOW_TOPICS = (
    Topic.EVENTS_INVALID,
    Topic.EVENTS_NORMALIZED,
    Topic.DELIVERIES,
    Topic.DELIVERIES_ATTEMPTS,
)


class Flow:
    """Both loops over one producer."""

    def __init__(self, spec: FlowSpec, counts: FlowCounts) -> None:
        self.spec = spec
        self.settings = spec.loaded_settings()
        self.counts = counts
        self.subscriptions = spec.loaded_subscriptions()
        self.headers = RecordHeaders.from_manifest(self.settings)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=int(self.settings.producer_linger * 1000),
        )

    def consumer(self, topic: str, role: str) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=f"{self.spec.group}-{role}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )

    async def write(self, outputs: list[Output]) -> None:
        """Queue every record, then wait for all of their acks."""
        acks: list[Awaitable[Any]] = []
        for topic, key, value in outputs:
            headers = self.headers.by_topic.get(topic)  # the changelog has none
            acks.append(await self.producer.send(topic, value, key=key, headers=headers))
        await asyncio.gather(*acks)

    async def normalize_loop(self, reader: AIOKafkaConsumer) -> None:
        step = Normalizing(
            self.settings, Catalog(self.settings.topics_dir), self.subscriptions, self.counts
        )
        while True:
            polled = await reader.getmany(timeout_ms=POLL_MS, max_records=BATCH_LIMIT)
            if not polled:
                continue
            outputs, keys = step.prepare(r.value for part in polled.values() for r in part)
            await self.write(outputs)
            step.mark(keys)
            await reader.commit()
            self.counts.normalize_batches += 1

    async def deliver_loop(self, reader: AIOKafkaConsumer, session: aiohttp.ClientSession) -> None:
        step = Delivering(self.settings, self.subscriptions, session, self.counts)
        stop_after = self.spec.stop_after
        while stop_after is None or self.counts.delivered < stop_after:
            polled = await reader.getmany(timeout_ms=POLL_MS, max_records=BATCH_LIMIT)
            if not polled:
                continue
            tasks = [decode_task(r.value) for part in polled.values() for r in part]
            written = await asyncio.gather(*(step.one(task) for task in tasks))
            await self.write([output for outputs in written for output in outputs])
            await reader.commit()
            self.counts.deliver_batches += 1

    async def run(self) -> None:
        await create_flow_topics(self.settings)
        envelopes = self.consumer(self.spec.source, "normalize")
        tasks = self.consumer(self.settings.topic(Topic.DELIVERIES), "deliver")
        connector = aiohttp.TCPConnector(limit=self.settings.delivery_concurrency)
        timeout = aiohttp.ClientTimeout(total=self.settings.delivery_timeout)
        async with contextlib.AsyncExitStack() as stack:
            for client in (self.producer, envelopes, tasks):
                await client.start()
                stack.push_async_callback(client.stop)
            session = await stack.enter_async_context(
                aiohttp.ClientSession(
                    connector=connector, timeout=timeout, headers={"user-agent": USER_AGENT}
                )
            )
            loops = [
                asyncio.ensure_future(self.normalize_loop(envelopes)),
                asyncio.ensure_future(self.deliver_loop(tasks, session)),
            ]
            try:
                done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
                for loop in done:
                    loop.result()  # a loop's exception ends the flow
            finally:
                for loop in loops:
                    loop.cancel()
                await asyncio.gather(*loops, return_exceptions=True)


async def create_flow_topics(settings: Settings) -> None:
    """Its topics from the manifest and the delivered changelog, under its own prefix."""
    specs = [spec for spec in load_manifest(settings) if spec.declared in FLOW_TOPICS]
    changelog = delivered_changelog(settings)
    specs += [spec for spec in changelog_specs(settings) if spec.name == changelog]
    await apply_topics(settings.kafka_bootstrap, specs)


async def run(spec: FlowSpec, counts: FlowCounts) -> None:
    """The flow until it stops by itself; aiokafka's clients need the running loop."""
    flow = Flow(spec, counts)
    log.info("bare_flow: %s → %s*", spec.source, flow.settings.topic_prefix)
    await flow.run()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)  # its own start and counts; aiokafka's group chatter is not needed
    spec = FlowSpec.from_json(Path(argv[0]).read_bytes())
    counts = FlowCounts()
    uvloop.run(until_terminated(run(spec, counts)))
    Path(argv[1]).write_bytes(orjson.dumps(asdict(counts)))
    log.info("bare_flow stopped: %s", asdict(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
