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
changelog (the "delivered mark", as faust writes it: key, the time bucket as JSON) → one gather
of acks → commit. Produced records carry the manifest's headers, as the worker's `Writer` adds.

Its topics are the manifest's under a prefix of its own (`topic_prefix` in the spec's settings),
created at start, so it runs beside a pipeline's topics on the same broker.

What it skips, so that it measures the design's Python limit rather than being a second pipeline:
the subscriptions come in the spec, secrets in clear (no `config.subscriptions` view, no sealing);
a failed attempt is logged on `deliveries.attempts` and counted, never retried, deferred or
dead-lettered (no retry tiers, no 410 handling); a task waits for a slot rather than being
deferred; no destination check per attempt (the bench allows private destinations); the dedup and
delivered sets are dicts in memory (no rocksdb, no expiry, no recovery, and no changelog for the
dedup set, which the worker writes once per new event); no `polls.raw`, metrics or web page.
On uvloop, as the worker. Runs until SIGTERM, or until `stop_after` deliveries succeeded; then
writes its counts (`FlowCounts`) to OUT.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.peers.stage import dedup_key, until_terminated
from pipeline.config.subscriptions import Subscription
from pipeline.contract.changelogs import changelog_specs
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic, load_manifest
from pipeline.delivery.formats import render
from pipeline.delivery.outcome import Outcome, OutcomeKind, classify
from pipeline.delivery.sender import USER_AGENT
from pipeline.delivery.signing import delivery_headers
from pipeline.delivery.tasks import (
    DeliveryAttempt,
    DeliveryTask,
    attempt_record,
    decode_task,
    encode,
    new_task,
)
from pipeline.events.catalog import Catalog
from pipeline.events.invalid import encode_invalid
from pipeline.ops.topics_apply import apply_topics
from pipeline.providers.normalize import normalize_webhook
from pipeline.settings import Settings, load_settings

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
Output = tuple[str, bytes, bytes]  # topic, key, value


@dataclass(frozen=True)
class FlowSpec:
    """What the parent hands over (a JSON file)."""

    source: str  # the backlog's `webhooks.raw`, by its cluster-side name
    group: str  # stem of its two consumer groups: it reads the backlog from the beginning
    subscriptions: list[dict[str, Any]]  # `Subscription` values, secrets in clear
    settings: dict[str, Any]  # `load_settings` arguments: bootstrap, its own prefix and app id…
    stop_after: int | None = None  # stop by itself after this many deliveries (tests)

    @classmethod
    def from_json(cls, raw: bytes) -> FlowSpec:
        return cls(**orjson.loads(raw))

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    def loaded_settings(self) -> Settings:
        return load_settings(**self.settings)

    def loaded_subscriptions(self) -> list[Subscription]:
        """Raises `msgspec.ValidationError` for a value that is not a subscription."""
        return [msgspec.convert(value, Subscription) for value in self.subscriptions]


def spec_subscription(
    subscription_id: str, url: str, secret: str, instance_ids: list[str] | None
) -> dict[str, Any]:
    """A subscription to every event type, as the spec carries it."""
    now = "2026-01-01T00:00:00Z"
    value = Subscription(
        id=subscription_id,
        name=subscription_id,
        url=url,
        event_types=["*"],
        instance_ids=instance_ids,
        enabled=True,
        secret=secret,
        created=now,
        modified=now,
    )
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]  # a Struct → its dict


@dataclass
class FlowCounts:
    """What the flow did, written to OUT.json."""

    records: int = 0  # envelopes read
    events: int = 0  # new events written to `events.normalized`
    repeats: int = 0  # events dropped as seen before
    invalid: int = 0  # dead letters written
    tasks: int = 0  # delivery tasks written
    unknown_subscription: int = 0  # tasks read for a subscription not in the spec: dropped
    suppressed: int = 0  # tasks whose webhook-id was delivered already: not sent again
    attempts: int = 0  # attempt records written
    delivered: int = 0  # attempts answered 2xx (= delivered marks written)
    failed: int = 0  # attempts answered otherwise (not retried)
    normalize_batches: int = 0
    deliver_batches: int = 0


@dataclass
class Normalizing:
    """normalize + dedup + route for one batch of envelopes, Kafka left to the caller."""

    settings: Settings
    catalog: Catalog
    subscriptions: list[Subscription]
    counts: FlowCounts
    seen: dict[str, None] = field(default_factory=dict)

    def prepare(self, values: Iterable[bytes | None]) -> tuple[list[Output], list[str]]:
        """The batch's records to write, and the keys to mark seen once they are acked."""
        normalized = self.settings.topic(Topic.EVENTS_NORMALIZED)
        deliveries = self.settings.topic(Topic.DELIVERIES)
        invalid = self.settings.topic(Topic.EVENTS_INVALID)
        outputs: list[Output] = []
        fresh: dict[str, None] = {}
        for raw in values:
            self.counts.records += 1
            outcome = normalize_webhook(raw, self.catalog)
            instance = outcome.instance_id
            for letter in outcome.invalid:
                outputs.append((invalid, (instance or "").encode(), encode_invalid(letter)))
                self.counts.invalid += 1
            for event in outcome.events:
                key = dedup_key(event)
                if key in self.seen or key in fresh:
                    self.counts.repeats += 1
                    continue
                fresh[key] = None
                outputs.append((normalized, event["subject"].encode(), orjson.dumps(event)))
                self.counts.events += 1
                for subscription in self.subscriptions:
                    if subscription.matches(str(event.get("type")), event.get("instanceid")):
                        task = new_task(subscription.id, event, reason="live")
                        outputs.append((deliveries, subscription.id.encode(), encode(task)))
                        self.counts.tasks += 1
        return outputs, list(fresh)

    def mark(self, keys: list[str]) -> None:
        self.seen.update(dict.fromkeys(keys))


def concluded(settings: Settings, task: DeliveryTask, record: DeliveryAttempt) -> list[Output]:
    """What one attempt writes: its record, and on 2xx the delivered mark (faust's changelog
    record of `table[webhook_id] = bucket`: raw key, JSON value)."""
    key = task.subscription_id.encode()
    outputs = [(settings.topic(Topic.DELIVERIES_ATTEMPTS), key, encode(record))]
    if record.outcome == OutcomeKind.DELIVERED.value:
        bucket = int(time.time() // settings.dedup_window)
        mark = (delivered_changelog(settings), task.webhook_id.encode(), orjson.dumps(bucket))
        outputs.append(mark)
    return outputs


def delivered_changelog(settings: Settings) -> str:
    return f"{settings.app_id}-delivered-changelog"


class Delivering:
    """Sign and POST tasks through one session, bounded as the worker's deliver agent."""

    def __init__(
        self,
        settings: Settings,
        subscriptions: list[Subscription],
        session: aiohttp.ClientSession,
        counts: FlowCounts,
    ) -> None:
        self.settings = settings
        self.subscriptions = {s.id: s for s in subscriptions}
        self.session = session
        self.counts = counts
        self.delivered: dict[str, None] = {}
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        per_subscription = settings.delivery_concurrency_per_subscription
        self._gates = {s.id: asyncio.Semaphore(per_subscription) for s in subscriptions}

    async def one(self, task: DeliveryTask) -> list[Output]:
        """The records one task's attempt writes (none when it is not attempted)."""
        subscription = self.subscriptions.get(task.subscription_id)
        if subscription is None:
            self.counts.unknown_subscription += 1
            return []
        if task.webhook_id in self.delivered:
            self.counts.suppressed += 1
            return []
        async with self._gates[subscription.id], self._slots:
            outcome, record = await self.attempt(task, subscription)
        self.counts.attempts += 1
        if outcome.kind is OutcomeKind.DELIVERED:
            self.delivered[task.webhook_id] = None
            self.counts.delivered += 1
        else:
            self.counts.failed += 1
        return concluded(self.settings, task, record)

    async def attempt(
        self, task: DeliveryTask, subscription: Subscription
    ) -> tuple[Outcome, DeliveryAttempt]:
        started = datetime.now(UTC)
        body, format_headers = render(subscription, task.event)
        secrets = subscription.signing_secrets(started)
        headers = delivery_headers(secrets, task.webhook_id, int(started.timestamp()), body)
        headers.update(format_headers)
        clock = time.perf_counter()
        status, answered, error = None, {}, None
        try:
            async with self.session.post(
                subscription.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
                answered = {name.lower(): value for name, value in response.headers.items()}
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError included
            error = f"{type(exc).__name__}"
        cap = max(self.settings.retry_schedule)
        outcome = classify(status, answered, error, retry_after_cap=cap)
        return outcome, attempt_record(task, outcome, started, time.perf_counter() - clock)


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
