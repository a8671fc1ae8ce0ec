"""`deliveries` | `deliveries.retry.<n>` → deliver (the sink) → subscriber callbacks.

One agent per tier, so a task waiting for its retry time blocks only tasks due later than it. Each
tier's actors read its tasks into the tier's lanes (`pipeline.delivery.lanes`, `TierLanes`): a
task of an ordered subscription (`ordering: "subject"`) waits for the tasks of its subject read
before it; any other runs beside the others, up to `PIPELINE_DELIVERY_CONCURRENCY` requests per
tier. A task is acked once it has ended, so faust commits no offset past a task still running
(`pipeline.runtime.faust_fixes`).

Every attempt is logged on `deliveries.attempts`. A failure moves an unordered task to the next
tier (or to `deliveries.dead` after the last); an ordered one is retried in place, on the same
schedule, holding back its subject's later tasks only, and when its retries are spent it and the
tasks then waiting behind it are dead-lettered in order. 410 disables the subscription, and a
subscriber already holding its limit of requests has a further task wait for a slot while it
answers quickly, or deferred to tier 1 when it is slow (an ordered task waits), so it never ties
up shared slots (`pipeline.delivery.gates`). Only a deleted subscription drops a task: one whose
record cannot be read holds the task, uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import faust
import msgspec
from faust.types import EventT, StreamT

from pipeline import metrics
from pipeline.agents.guard import guarded, retrying
from pipeline.config.sealing import ConfigCodec
from pipeline.config.subscriptions import Subscription, disable_gone
from pipeline.config.view import CompactedView, Unreadable
from pipeline.delivery.attempt import attempt
from pipeline.delivery.conclusion import DeliveryTopics, conclude
from pipeline.delivery.gates import SubscriberGates
from pipeline.delivery.lanes import Lanes
from pipeline.delivery.outcome import Outcome, OutcomeKind, status_class
from pipeline.delivery.sender import Sender
from pipeline.delivery.tasks import (
    DeliveryAttempt,
    DeliveryTask,
    dead_letter,
    decode_task,
    encode,
    event_head,
    key_of,
    later,
    seconds_until_due,
)
from pipeline.events.cloudevent import parse_time
from pipeline.events.invalid import (
    InvalidRecord,
    decode_or_dead_letter,
    encode_invalid,
    invalid_record,
)
from pipeline.runtime.batching import Writer, manual_acks
from pipeline.runtime.faust_fixes import as_current
from pipeline.runtime.tables import Tables
from pipeline.settings import Settings
from pipeline.topics import Topics

log = logging.getLogger(__name__)
HELD_METRICS_SECONDS = 5.0


@dataclass
class Delivery:
    """What the deliver agents share: config, topics, tables and the HTTP client."""

    settings: Settings
    topics: Topics
    tables: Tables
    subscriptions: CompactedView[Subscription]
    sender: Sender
    gates: SubscriberGates
    writer: Writer
    codec: ConfigCodec  # seals a subscription this agent writes back (disabled on 410)
    # webhook-id → set once the attempt now running for it has concluded (see `settled`)
    attempting: dict[str, asyncio.Event] = field(default_factory=dict)
    # delivery-id → (subscription, since when): ordered tasks waiting to be retried in place,
    # each holding back its lane (`pipeline_delivery_lanes_held`)
    held: dict[str, tuple[str, float]] = field(default_factory=dict)
    names: DeliveryTopics = field(init=False)  # the topics an attempt writes to, by name

    def __post_init__(self) -> None:
        self.names = DeliveryTopics(
            attempts=self.topics.deliveries_attempts.get_topic_name(),
            tiers=[tier.get_topic_name() for tier in self.topics.delivery_tiers],
            dead=self.topics.deliveries_dead.get_topic_name(),
        )

    def delivered(self, key: str) -> bool:
        return self.tables.delivered.seen(key)

    async def settled(self, webhook_id: str) -> bool:
        """Whether this delivery already got its 2xx. A copy of it being attempted right now is
        waited for first: after a restart the same task is read twice (its own uncommitted
        record, and the copy routed again from the uncommitted events), and the two would
        otherwise be sent side by side when the subscriber answers slowly."""
        while (running := self.attempting.get(webhook_id)) is not None:
            await running.wait()
        return self.delivered(webhook_id)

    def held_lanes(self) -> dict[str, tuple[int, float]]:
        """Per subscription: lanes held back by a task waiting for its retry, and how long the
        oldest has waited (seconds)."""
        now = time.monotonic()
        lanes: dict[str, tuple[int, float]] = {}
        for subscription, since in self.held.values():
            count, oldest = lanes.get(subscription, (0, 0.0))
            lanes[subscription] = (count + 1, max(oldest, now - since))
        return lanes


@dataclass(slots=True)
class Taken:
    """A record a deliver actor has read: its task (None: not a task), and where it runs."""

    stream: StreamT[bytes]  # the reader's, which acks it
    event: EventT[Any]
    task: DeliveryTask | None
    lane: tuple[str, str | None] | None  # (subscription, subject): ordered; None: alone


def register_deliver(app: faust.App, delivery: Delivery) -> list[Any]:
    agents = []
    readers = delivery.settings.delivery_concurrency
    for tier, topic in enumerate(delivery.topics.delivery_tiers):
        lanes = TierLanes(delivery)

        async def deliver(stream: StreamT[bytes], lanes: TierLanes = lanes) -> None:
            await lanes.read(manual_acks(stream))

        agent = app.agent(topic, name=f"deliver-tier-{tier}", concurrency=readers)(deliver)
        agents.append(agent)

    async def publish_held_lanes() -> None:
        publish_held(delivery)

    app.timer(HELD_METRICS_SECONDS)(publish_held_lanes)
    return agents


def publish_held(delivery: Delivery) -> None:
    """`pipeline_delivery_lanes_held` and `pipeline_delivery_held_oldest_seconds`, now."""
    metrics.DELIVERY_LANES_HELD.clear()
    metrics.DELIVERY_HELD_OLDEST.clear()
    for subscription, (lanes, oldest) in delivery.held_lanes().items():
        metrics.DELIVERY_LANES_HELD.labels(subscription).set(lanes)
        metrics.DELIVERY_HELD_OLDEST.labels(subscription).set(round(oldest, 3))


class TierLanes:
    """One tier's tasks, read by the tier's deliver actors, run in lanes, each acked as it ends.

    The tier's agent runs `PIPELINE_DELIVERY_CONCURRENCY` actors, each reading the tier's stream
    into these lanes; an unordered task runs in the actor that read it, as before lanes. faust's
    stream hands a reader one record per pass of the event loop, so a single reader would let a
    busy worker's deliveries wait in faust's buffer with the requests' slots free (measured: 15 %
    fewer deliveries per second, the subscriber's requests no longer arriving together). Readers
    keep an ordered subscription's order: a record taken from the stream is in
    its lane before its reader first yields to the loop (`_take` and `Lanes.submit` wait only on
    first-come, first-served events and semaphores), so a subject's tasks enter their lane in
    the order they were read."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery
        settings = delivery.settings
        self._lanes: Lanes[Taken] = Lanes(
            self._run,
            self._behind,
            slots=asyncio.Semaphore(settings.delivery_concurrency),
            held_limit=settings.delivery_held_limit,
        )
        self._readers = 0

    async def read(self, stream: StreamT[bytes]) -> None:
        """One reader: takes the stream's tasks into the lanes until the actor stops; the last
        reader to stop cancels the tasks still running (read again after the restart)."""
        self._readers += 1
        try:
            async for event in stream.events():
                taken = await self._take(stream, event)
                await self._lanes.submit(taken, taken.lane)
        finally:
            self._readers -= 1
            if not self._readers:
                await self._lanes.close()

    async def _take(self, stream: StreamT[bytes], event: EventT[Any]) -> Taken:
        try:
            task = decode_task(event.value or b"")
        except msgspec.DecodeError:  # dead-lettered when run
            return Taken(stream, event, None, None)
        return Taken(stream, event, task, await _lane(self._delivery, task))

    async def _run(self, taken: Taken) -> bool:
        """True unless the task ended dead (its lane's waiting tasks then follow it)."""
        delivery, raw = self._delivery, taken.event.value
        alive = True

        async def handle_it() -> None:
            nonlocal alive
            if taken.task is None:
                await deliver_one(delivery, raw)
            else:
                alive = await handle(delivery, taken.task, self._lanes.slot if taken.lane else None)

        with as_current(taken.event):  # the `delivered` mark's partition is the task's
            await guarded("deliver", raw, handle_it, partial(_dead_invalid, delivery))
        await taken.stream.ack(taken.event)
        return alive

    async def _behind(self, taken: Taken, head: Taken) -> None:
        """A task that waited in its lane behind `head`, dead-lettered with it, in order."""
        task, ended = taken.task, head.task.delivery_id if head.task else "?"
        with as_current(taken.event):  # None: never in a lane; delivered: by an earlier run
            if task is not None and not self._delivery.delivered(task.webhook_id):
                why = f"held behind delivery {ended} of its subject, which ended dead"
                held = Outcome(OutcomeKind.RETRY, None, None, why)
                dead = dead_letter(task, "held_back", held)
                await retrying("deliver", partial(_write_dead, self._delivery, task, dead))
                metrics.DELIVERIES_DEAD.labels(task.subscription_id).inc()
        await taken.stream.ack(taken.event)


async def _lane(delivery: Delivery, task: DeliveryTask) -> tuple[str, str | None] | None:
    """The task's lane if its subscription is ordered, or may be: one not read yet, or whose
    record cannot be read, is laned too (it waits there for its record, as it would alone)."""
    view = delivery.subscriptions
    await view.caught_up.wait()
    found = view.lookup(task.subscription_id)
    if isinstance(found, Subscription) and not found.ordered:
        return None
    return task.subscription_id, event_head(task.event).subject


async def _dead_invalid(delivery: Delivery, value: bytes) -> None:
    invalid = delivery.topics.events_invalid.get_topic_name()
    await (await delivery.writer.send(invalid, b"", value))


async def deliver_one(delivery: Delivery, raw: bytes) -> None:
    try:
        task = decode_task(raw or b"")
    except msgspec.DecodeError as exc:  # not JSON, or JSON but not a delivery task
        await _dead_letter(delivery, _unusable(raw, exc))
    else:
        await handle(delivery, task)


def _unusable(raw: bytes | None, exc: msgspec.DecodeError) -> InvalidRecord:
    value, unreadable = decode_or_dead_letter(raw, "deliver")
    if unreadable is not None:
        return unreadable
    return invalid_record(
        stage="deliver",
        reason="invalid_task",
        message=f"not a delivery task: {exc}",
        provider=None,
        instance_id=None,
        record=value,
    )


async def _dead_letter(delivery: Delivery, letter: InvalidRecord) -> None:
    invalid = delivery.topics.events_invalid.get_topic_name()
    await (await delivery.writer.send(invalid, b"", encode_invalid(letter)))
    metrics.EVENTS_INVALID.labels("deliver", letter.reason).inc()


async def handle(
    delivery: Delivery, task: DeliveryTask, lane: asyncio.Semaphore | None = None
) -> bool:
    """Deliver `task`; False if it ended dead. `lane`: the tier's request slots, when the task
    runs in an ordered lane: it is then retried in place, not on the next tier, and waits for
    its subscriber's slot instead of being deferred."""
    try:
        while True:
            due_in = seconds_until_due(task)
            if due_in > 0:  # a live task is due at once: no trip through the event loop for it
                await asyncio.sleep(due_in)
            subscription = await _subscription(delivery, task)
            if subscription is None:
                log.info("dropping delivery %s: subscription deleted", task.delivery_id)
                return True
            if not subscription.enabled:
                dead = dead_letter(task, "disabled", None)
                await _write_dead(delivery, task, dead)  # acked first
                metrics.DELIVERIES_DEAD.labels(subscription.id).inc()
                return True
            if task.force:
                ended = await _deliver(delivery, task, subscription, lane)
            else:
                webhook_id = task.webhook_id
                if await delivery.settled(webhook_id):
                    metrics.DELIVERIES_SUPPRESSED.inc()
                    return True
                concluded = delivery.attempting[webhook_id] = asyncio.Event()
                try:
                    ended = await _deliver(delivery, task, subscription, lane)
                finally:
                    del delivery.attempting[webhook_id]
                    concluded.set()
            if not isinstance(ended, DeliveryTask):
                return ended
            delivery.held.setdefault(task.delivery_id, (subscription.id, time.monotonic()))
            task = ended  # retried in place, holding its lane
    finally:
        delivery.held.pop(task.delivery_id, None)


async def _subscription(delivery: Delivery, task: DeliveryTask) -> Subscription | None:
    """The task's subscription, None only once deleted. While its record cannot be read the task
    waits, uncommitted (a worker whose key ring cannot open it stops: `key_check`).

    A subscription this worker has not read at all is not taken for a deleted one at once: the
    worker that routed the task may have read it first. The view is read to its end, and only
    a key still missing then (a tombstone compacted away, or never written) is gone."""
    view = delivery.subscriptions
    await view.caught_up.wait()
    found = view.lookup(task.subscription_id)
    if found is None and not view.deleted(task.subscription_id):
        await view.synced()
        found = view.lookup(task.subscription_id)
    if not isinstance(found, Unreadable):
        return found
    log.warning("delivery %s waits: cannot read %s", task.delivery_id, found.describe())
    metrics.DELIVERIES_WAITING_CONFIG.inc()
    try:
        while isinstance(found := view.lookup(task.subscription_id), Unreadable):
            await view.changed()
    finally:
        metrics.DELIVERIES_WAITING_CONFIG.dec()
    return found


async def _deliver(
    delivery: Delivery,
    task: DeliveryTask,
    subscription: Subscription,
    lane: asyncio.Semaphore | None,
) -> bool | DeliveryTask:
    """One attempt, or its deferral when the subscriber holds its share of requests. Ended: True
    unless dead; in a lane, a task to retry in place instead of the next tier."""
    started = await delivery.gates.acquire(subscription.id, defer=lane is None)
    if started is None:
        later = _deferred(delivery, task)
        # Acked before faust may commit this task's offset: a crash must not lose the deferral.
        await (await _send(delivery, delivery.topics.delivery_tiers[1], task, later))
        metrics.DELIVERIES_DEFERRED.labels(subscription.id).inc()
        return True
    metrics.DELIVERIES_IN_FLIGHT.inc()
    try:
        if lane is None:  # its tier slot taken before it started
            outcome, record = await attempt(task, subscription, delivery.sender, delivery.settings)
        else:
            async with lane:
                outcome, record = await attempt(
                    task, subscription, delivery.sender, delivery.settings
                )
    finally:
        metrics.DELIVERIES_IN_FLIGHT.dec()
        delivery.gates.release(subscription.id, started)
    return await _conclude(delivery, task, subscription, outcome, record, in_place=lane is not None)


async def _conclude(
    delivery: Delivery,
    task: DeliveryTask,
    subscription: Subscription,
    outcome: Outcome,
    record: DeliveryAttempt,
    *,
    in_place: bool,
) -> bool | DeliveryTask:
    """Write what the attempt leaves behind (`pipeline.delivery.conclusion`); True unless it
    ended dead, or in a lane the task's next attempt, to run in place."""
    done = conclude(
        task,
        outcome,
        record,
        schedule=delivery.settings.retry_schedule,
        topics=delivery.names,
        in_place=in_place,
    )
    logged, *others = done.records
    acks = [await delivery.writer.send(*logged)]
    if done.delivered:
        # Marked while the log record is on its way, not after its ack: a kill in between had the
        # task (its offset not committed yet) sent again after the restart, although its 2xx came
        # before the kill (7 such repeats in one round of `make soak`). The record is queued
        # first; both go out in the producer's next requests.
        delivery.tables.delivered.add(task.webhook_id)
    acks += [await delivery.writer.send(*output) for output in others]
    if done.retry_tier is not None:
        metrics.DELIVERY_RETRIES.labels(str(done.retry_tier)).inc()
    if done.dead:
        metrics.DELIVERIES_DEAD.labels(subscription.id).inc()
    await asyncio.gather(*acks)
    # The mark's changelog record in the producer's hands before the task is acked (faust's
    # commit then waits for its ack); queued a moment after the log record, as faust queued it.
    # In an ordered lane, acknowledged before the next task of the subject is sent: a mark lost
    # to a crash would have this one sent again after it (a repeat out of order).
    marks = delivery.tables.delivered
    await retrying("deliver", marks.changelog_acked if in_place else marks.changelog_sent)
    if outcome.kind is OutcomeKind.DISABLE:
        await _disable(delivery, subscription, outcome)
    _observe(task, subscription, outcome, record)
    return done.again or done.alive


async def _send(
    delivery: Delivery, topic: Any, task: DeliveryTask, value: DeliveryTask
) -> Awaitable[Any]:
    return await delivery.writer.send(topic.get_topic_name(), key_of(task), encode(value))


async def _write_dead(delivery: Delivery, task: DeliveryTask, dead: DeliveryTask) -> None:
    await (await _send(delivery, delivery.topics.deliveries_dead, task, dead))


def _deferred(delivery: Delivery, task: DeliveryTask) -> DeliveryTask:
    """The same attempt, later: the subscriber is busy with its share of requests."""
    delay = delivery.settings.retry_schedule[0]
    busy = Outcome(OutcomeKind.RETRY, None, None, "deferred: slow subscriber at its request limit")
    return later(task, delay, busy, attempt=task.attempt)


async def _disable(delivery: Delivery, subscription: Subscription, outcome: Outcome) -> None:
    """Write the disabled subscription and apply it here at once, so no further task calls it."""
    disabled = disable_gone(subscription, outcome.status_code or 410)
    log.warning("disabling subscription %s: %s", subscription.id, disabled.disabled_reason)
    metrics.SUBSCRIPTIONS_DISABLED.inc()
    ack = await delivery.writer.send(
        delivery.topics.config_subscriptions.get_topic_name(),
        subscription.id.encode(),
        delivery.codec.subscription_to_json(disabled),
    )
    written = await ack
    delivery.subscriptions.apply(subscription.id, disabled, written.offset)


def _observe(
    task: DeliveryTask, subscription: Subscription, outcome: Outcome, record: DeliveryAttempt
) -> None:
    label = outcome.kind.name.lower()
    status = status_class(outcome.status_code)
    metrics.child(metrics.DELIVERY_ATTEMPTS, subscription.id, label, status).inc()
    metrics.child(metrics.DELIVERY_DURATION, subscription.id).observe(record.duration_seconds)
    if outcome.kind is OutcomeKind.DELIVERED:
        head = event_head(task.event)
        received = parse_time(head.receivedat)
        if received is not None:
            latency = max(0.0, time.time() - received.timestamp())
            metrics.child(metrics.END_TO_END_LATENCY, str(head.provider)).observe(latency)
