"""`webhooks.raw` + `polls.raw` → normalize → dedup → route →
`events.normalized` + `deliveries` | `events.invalid`.

Records are handled in batches (`pipeline.runtime.batching`). Order of effects per batch, so that a
crash can repeat an event but never lose one: normalize every record (a record that fails
unexpectedly becomes an `internal_error` dead letter), drop the events seen before, route the new
ones (`pipeline.agents.route`), write the new events, their delivery tasks and the dead letters,
wait for Kafka's acks, then mark the events seen in the dedup table (each under its own record, so
the key lands in that record's changelog partition) and ack the records. faust commits their
offsets only after that.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import faust
import orjson
from faust.types import EventT, StreamT

from pipeline import metrics
from pipeline.agents.guard import internal_error, retrying
from pipeline.agents.route import Router
from pipeline.contract.output import Output
from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import CloudEvent, parse_time
from pipeline.events.invalid import encode_invalid
from pipeline.providers.normalize import Outcome, normalize_poll, normalize_webhook
from pipeline.runtime.batching import Writer, ack_batch, batches, manual_acks
from pipeline.runtime.faust_fixes import as_current
from pipeline.runtime.tables import Tables
from pipeline.topics import Topics

log = logging.getLogger(__name__)


class Normalized(NamedTuple):
    """One normalized event and its JSON, encoded once for every record that carries it."""

    event: CloudEvent
    value: bytes


@dataclass
class Prepared:
    """One record, normalized, with its outputs already serialised (so none can fail later)."""

    event: EventT[Any]
    outcome: Outcome
    events: list[Normalized]
    invalid: list[bytes]
    tasks: list[Output] = field(default_factory=list)  # the new events' deliveries (`route`)
    routed: int = 0  # how many of `tasks` are deliveries (the rest: routing's dead letters)


@dataclass
class Normalizer:
    topics: Topics
    tables: Tables
    catalog: Catalog
    writer: Writer
    router: Router

    def prepare(self, event: EventT[Any]) -> Prepared:
        """What one record becomes; an unexpected error makes it an `internal_error` letter."""
        raw = event.value
        try:
            if event.message.topic == self.topics.polls_raw.get_topic_name():
                outcome = normalize_poll(raw, self.catalog)
            else:
                outcome = normalize_webhook(raw, self.catalog)
            events = [Normalized(event, orjson.dumps(event)) for event in outcome.events]
            return Prepared(event, outcome, events, [encode_invalid(r) for r in outcome.invalid])
        except Exception as exc:
            log.exception("normalize: a record failed unexpectedly; dead-lettered")
            metrics.AGENT_ERRORS.labels("normalize").inc()
            letter = internal_error("normalize", exc, raw)
            return Prepared(event, Outcome(invalid=[letter]), [], [encode_invalid(letter)])

    def drop_seen(self, batch: list[Prepared]) -> None:
        """Keep, per record, the events neither seen before (within the window) nor earlier in
        the batch."""
        seen_here: set[str] = set()
        for record in batch:
            fresh: list[Normalized] = []
            with as_current(record.event):  # lookups read the record's partition of the table
                for normalized in record.events:
                    key = dedup_key(normalized.event)
                    if key in seen_here or self.tables.dedup.seen(key):
                        metrics.EVENTS_DUPLICATE.labels(record.outcome.provider).inc()
                        continue
                    seen_here.add(key)
                    fresh.append(normalized)
            record.events = fresh

    async def write(self, batch: list[Prepared]) -> None:
        """Every new event, its delivery tasks and every dead letter of the batch, acknowledged
        by Kafka."""
        normalized = self.topics.events_normalized.get_topic_name()
        invalid = self.topics.events_invalid.get_topic_name()
        outputs: list[Output] = []
        for record in batch:
            for event, value in record.events:
                outputs.append(Output(normalized, event["subject"].encode(), value))
            outputs += record.tasks
            instance = (record.outcome.instance_id or "").encode()
            outputs += [Output(invalid, instance, letter) for letter in record.invalid]
        await (await self.writer.send_all(outputs))

    def mark(self, batch: list[Prepared]) -> None:
        now = time.time()
        for record in batch:
            outcome = record.outcome
            with as_current(record.event):  # the key's changelog partition is the record's
                for normalized, _ in record.events:
                    self.tables.dedup.add(dedup_key(normalized))
            for normalized, _ in record.events:
                metrics.child(metrics.EVENTS_NORMALIZED, outcome.provider, normalized["type"]).inc()
                occurred = parse_time(normalized["time"])
                if occurred is not None:
                    lag = max(0.0, now - occurred.timestamp())
                    metrics.child(metrics.NORMALIZE_LAG, outcome.provider).observe(lag)
            for letter in outcome.invalid:
                metrics.EVENTS_INVALID.labels(letter.stage, letter.reason).inc()
            if outcome.ignored:
                metrics.EVENTS_IGNORED.labels(outcome.provider).inc(outcome.ignored)
            if record.routed:
                metrics.child(metrics.DELIVERIES_ROUTED, "live").inc(record.routed)

    def route(self, batch: list[Prepared]) -> None:
        for record in batch:
            for normalized, value in record.events:
                outputs = self.router.outputs(normalized, value)
                record.tasks += outputs
                record.routed += sum(topic == self.router.deliveries for topic, _, _ in outputs)

    async def handle(self, events: list[EventT[Any]]) -> None:
        fetched = time.monotonic()  # every record of the batch is in hand
        batch = [self.prepare(event) for event in events]
        self.drop_seen(batch)
        if any(record.events for record in batch):  # repeats and dead letters route nothing
            await self.router.ready(fetched)
            self.route(batch)
        await retrying("normalize", partial(self.write, batch))
        self.mark(batch)
        # The marks' changelog records in the producer's hands before the records are acked.
        await retrying("normalize", self.tables.dedup.changelog_sent)


def register_normalize(app: faust.App, normalizer: Normalizer) -> Any:
    @app.agent(normalizer.topics.raw_inputs, name="normalize")
    async def normalize(stream: StreamT[bytes]) -> None:
        manual = manual_acks(stream)
        async for batch in batches(manual):
            await normalizer.handle(batch)
            await ack_batch(manual, batch)

    return normalize


def dedup_key(event: CloudEvent) -> str:
    return f"{event['source']} {event['id']}"
