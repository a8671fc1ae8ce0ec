"""bare_flow's steps (`bench.drains.bare_flow`), Kafka left to the caller: its spec and counts;
normalize + dedup + route for a batch of envelopes; one task's signed POST, bounded as the worker's
deliver agent, and the records its attempt writes. The work itself is the pipeline's own
functions; what is here is the plain glue a flow without faust needs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import orjson

from bench.peers.stage import dedup_key
from pipeline.config.subscriptions import Subscription
from pipeline.contract.output import Output
from pipeline.contract.topics import Topic
from pipeline.delivery.formats import render
from pipeline.delivery.outcome import Outcome, OutcomeKind, classify
from pipeline.delivery.signing import delivery_headers
from pipeline.delivery.tasks import DeliveryAttempt, DeliveryTask, attempt_record, encode, new_task
from pipeline.events.catalog import Catalog
from pipeline.events.invalid import encode_invalid
from pipeline.providers.normalize import normalize_webhook
from pipeline.settings import Settings, load_settings


@dataclass(frozen=True)
class FlowSpec:
    """What the parent hands over (a JSON file)."""

    source: str  # the backlog's `webhooks.raw`, by its cluster-side name
    group: str  # stem of its two consumer groups: it reads the backlog from the beginning
    subscriptions: list[dict[str, Any]]  # `Subscription` values, secrets in clear
    settings: dict[str, Any]  # `load_settings` arguments (over `PIPELINE_*`): its prefix, app id…
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
                outputs.append(Output(invalid, (instance or "").encode(), encode_invalid(letter)))
                self.counts.invalid += 1
            for event in outcome.events:
                key = dedup_key(event)
                if key in self.seen or key in fresh:
                    self.counts.repeats += 1
                    continue
                fresh[key] = None
                value = orjson.dumps(event)
                outputs.append(Output(normalized, event["subject"].encode(), value))
                self.counts.events += 1
                for subscription in self.subscriptions:
                    if subscription.matches(str(event.get("type")), event.get("instanceid")):
                        task = new_task(subscription.id, event, reason="live", encoded=value)
                        outputs.append(Output(deliveries, subscription.id.encode(), encode(task)))
                        self.counts.tasks += 1
        return outputs, list(fresh)

    def mark(self, keys: list[str]) -> None:
        self.seen.update(dict.fromkeys(keys))


def concluded(settings: Settings, task: DeliveryTask, record: DeliveryAttempt) -> list[Output]:
    """What one attempt writes: its record, and on 2xx the delivered mark (faust's changelog
    record of `table[webhook_id] = bucket`: key and value as JSON)."""
    key = task.subscription_id.encode()
    outputs = [Output(settings.topic(Topic.DELIVERIES_ATTEMPTS), key, encode(record))]
    if record.outcome == OutcomeKind.DELIVERED.value:
        bucket = int(time.time() // settings.dedup_window)
        mark = Output(
            delivered_changelog(settings), orjson.dumps(task.webhook_id), orjson.dumps(bucket)
        )
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
            error = type(exc).__name__
        cap = max(self.settings.retry_schedule)
        outcome = classify(status, answered, error, retry_after_cap=cap)
        return outcome, attempt_record(task, outcome, started, time.perf_counter() - clock)
