"""pipeline.agents.deliver: what one delivery task becomes — a logged attempt, a mark, a retry,
a dead letter, a disabled subscription — against a real HTTP receiver on 127.0.0.1. faust's
topics, table and producer are stood in for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline import metrics
from pipeline.agents.deliver import Delivery, deliver_one, handle
from pipeline.config.keyring import KeyRing
from pipeline.config.sealing import ConfigCodec
from pipeline.config.subscriptions import Subscription, decode_subscription
from pipeline.config.view import CompactedView
from pipeline.delivery.gates import SubscriberGates
from pipeline.delivery.sender import Sender
from pipeline.delivery.tasks import decode_task
from pipeline.events.cloudevent import parse_time
from pipeline.settings import load_settings

EVENT = {
    "specversion": "1.0",
    "id": "e1",
    "source": "/instances/i1",
    "type": "post.sent",
    "subject": "posts/1",
    "instanceid": "i1",
    "provider": "oktopost",
    "receivedat": "2025-11-20T12:00:00.000Z",
    "data": {"post_id": "1"},
}


@dataclass
class Receiver:
    """Answers `/hook/<status>`; remembers each request's path, body and webhook-id."""

    hits: list[tuple[str, bytes, str]] = field(default_factory=list)

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits.append((request.path, body, request.headers.get("webhook-id", "")))
        return web.Response(status=int(request.match_info["status"]))


class Acked:
    """A record Kafka acknowledged at `offset`."""

    def __init__(self, offset: int) -> None:
        self.offset = offset


class Producer:
    """Every write acked at once, at the next offset; kept per topic."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Acked]:
        self.writes.append((topic, key, value))
        ack: asyncio.Future[Acked] = asyncio.get_running_loop().create_future()
        ack.set_result(Acked(len(self.writes) - 1))
        return ack

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(value) for t, _, value in self.writes if t == topic]


class FaustTopic:
    """A faust topic as the agent uses it: its name (the writer writes to it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name


class DeliveredTable:
    def __init__(self) -> None:
        self.known: set[str] = set()
        self.marked: list[str] = []
        self.acked_marks: list[str] = []  # marks Kafka acknowledged (only ordered lanes wait)

    def seen(self, key: str) -> bool:
        return key in self.known

    def add(self, key: str) -> None:
        self.marked.append(key)

    async def changelog_sent(self) -> None:
        return None

    async def changelog_acked(self) -> None:
        self.acked_marks = list(self.marked)


@dataclass
class Stage:
    delivery: Delivery
    producer: Producer
    receiver: Receiver
    base: str
    table: DeliveredTable

    def subscribe(self, status: int = 200, *, enabled: bool = True, **fields: Any) -> Subscription:
        subscription = Subscription(
            id="s1",
            name="s1",
            url=f"{self.base}/hook/{status}",
            event_types=["*"],
            enabled=enabled,
            secret="whsec_c2VjcmV0c2VjcmV0",
            created="2025-11-20T00:00:00.000Z",
            modified="2025-11-20T00:00:00.000Z",
            **fields,
        )
        self.delivery.subscriptions.apply("s1", subscription, 0)
        return subscription


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{status}", receiver.hook)
    producer, table = Producer(), DeliveredTable()
    names = ["deliveries", "deliveries.retry.1", "deliveries.retry.2", "deliveries.retry.3"]
    topics = SimpleNamespace(
        delivery_tiers=[FaustTopic(name) for name in names],
        deliveries_attempts=FaustTopic("deliveries.attempts"),
        deliveries_dead=FaustTopic("deliveries.dead"),
        events_invalid=FaustTopic("events.invalid"),
        config_subscriptions=FaustTopic("config.subscriptions"),
    )
    subscriptions: CompactedView[Subscription] = CompactedView(
        "127.0.0.1:1", "unused", decode_subscription
    )
    subscriptions.assume_read()
    sender = Sender(allow_private=True)
    await sender.start()
    delivery = Delivery(
        settings=load_settings(allow_private_destinations=True, retry_schedule=(5.0, 25.0, 125.0)),
        topics=topics,  # type: ignore[arg-type]  # the stand-ins have what is used
        tables=SimpleNamespace(delivered=table),  # type: ignore[arg-type]
        subscriptions=subscriptions,
        sender=sender,
        gates=SubscriberGates(8),
        writer=producer,  # type: ignore[arg-type]
        codec=ConfigCodec(KeyRing.ephemeral()),
    )
    try:
        async with TestServer(app, host="127.0.0.1") as server:
            base = str(server.make_url("")).rstrip("/")
            yield Stage(delivery, producer, receiver, base, table)
    finally:
        await sender.close()


def _task(**changes: Any) -> dict[str, Any]:
    """A task as `deliveries` carries it (`topics/schemas/delivery-task.json`)."""
    return {
        "schema": "delivery-task/1",
        "delivery_id": "d1",
        "subscription_id": "s1",
        "webhook_id": "msg_1",
        "event": EVENT,
        "attempt": 1,
        "not_before": None,
        "reason": "live",
        "force": False,
        "routed_at": "2025-11-20T12:00:00.000Z",
        "last_error": None,
        **changes,
    }


async def _deliver(stage: Stage, task: dict[str, Any]) -> None:
    """The task read from its topic, as the agent reads it."""
    await deliver_one(stage.delivery, orjson.dumps(task))


async def test_a_2xx_is_logged_and_marked_delivered(stage: Stage) -> None:
    stage.subscribe(200)
    task = _task()
    await _deliver(stage, task)
    [(path, body, webhook_id)] = stage.receiver.hits
    assert path == "/hook/200"
    assert orjson.loads(body) == EVENT
    assert webhook_id == task["webhook_id"]
    [logged] = stage.producer.on("deliveries.attempts")
    assert (logged["outcome"], logged["response_code"], logged["attempt"]) == ("delivered", 200, 1)
    assert logged["webhook_id"] == task["webhook_id"]
    assert stage.table.marked == [task["webhook_id"]]
    assert [topic for topic, _, _ in stage.producer.writes] == ["deliveries.attempts"]


async def test_a_failure_moves_the_task_to_the_next_tier_not_before_its_delay(
    stage: Stage,
) -> None:
    stage.subscribe(503)
    before = datetime.now(UTC).timestamp()
    await _deliver(stage, _task())
    [retry] = stage.producer.on("deliveries.retry.1")
    assert (retry["attempt"], retry["last_error"]) == (2, "HTTP 503")
    due = parse_time(retry["not_before"])
    assert due is not None
    assert before + 5.0 - 0.01 <= due.timestamp() <= datetime.now(UTC).timestamp() + 5.0
    [logged] = stage.producer.on("deliveries.attempts")
    assert (logged["outcome"], logged["response_code"]) == ("retry", 503)
    assert stage.table.marked == []


async def test_a_retried_task_goes_on_to_the_tier_of_its_attempt(stage: Stage) -> None:
    stage.subscribe(500)
    await _deliver(stage, _task(attempt=3))
    [retry] = stage.producer.on("deliveries.retry.3")
    assert retry["attempt"] == 4


async def test_a_failure_after_the_last_tier_is_a_dead_letter(stage: Stage) -> None:
    stage.subscribe(500)
    await _deliver(stage, _task(attempt=4))
    [dead] = stage.producer.on("deliveries.dead")
    assert (dead["dead_reason"], dead["last_error"], dead["attempt"]) == (
        "exhausted",
        "HTTP 500",
        4,
    )
    assert all(not t.startswith("deliveries.retry") for t, _, _ in stage.producer.writes)


async def test_410_kills_the_task_and_disables_the_subscription(stage: Stage) -> None:
    stage.subscribe(410)
    await _deliver(stage, _task())
    [dead] = stage.producer.on("deliveries.dead")
    assert dead["dead_reason"] == "gone"
    [(key, value)] = [(k, v) for t, k, v in stage.producer.writes if t == "config.subscriptions"]
    assert key == b"s1"
    written = stage.delivery.codec.subscription_from_json(value)
    assert written.enabled is False
    assert written.disabled_reason == "the endpoint answered 410 Gone"
    shown = stage.delivery.subscriptions.get("s1")
    assert shown is not None
    assert shown.enabled is False  # applied here at once: no further task calls it
    await _deliver(stage, _task())
    assert len(stage.receiver.hits) == 1
    assert [d["dead_reason"] for d in stage.producer.on("deliveries.dead")] == ["gone", "disabled"]


async def test_a_private_destination_is_refused_without_a_request(stage: Stage) -> None:
    stage.delivery.settings = load_settings(allow_private_destinations=False)
    stage.subscribe(200)
    await _deliver(stage, _task())
    assert stage.receiver.hits == []
    [dead] = stage.producer.on("deliveries.dead")
    assert dead["dead_reason"] == "refused"
    assert dead["last_error"].startswith("destination refused: ")


async def test_a_delivered_task_is_not_sent_again_unless_forced(stage: Stage) -> None:
    stage.subscribe(200)
    task = _task()
    stage.table.known.add(task["webhook_id"])
    await _deliver(stage, task)
    assert stage.receiver.hits == []
    assert stage.producer.writes == []
    await _deliver(stage, {**task, "force": True, "reason": "replay"})
    assert len(stage.receiver.hits) == 1
    [logged] = stage.producer.on("deliveries.attempts")
    assert logged["reason"] == "replay"


async def test_a_task_of_a_deleted_subscription_is_dropped(stage: Stage) -> None:
    await _deliver(stage, _task())
    assert stage.receiver.hits == []
    assert stage.producer.writes == []


async def test_a_subscription_not_read_here_yet_is_read_to_the_end_not_taken_as_deleted(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker routed the task: it read the subscription before this one did. A key the
    view never saw is looked up again after a read barrier; only a tombstone deletes at once."""
    view = stage.delivery.subscriptions
    written = stage.subscribe(200)
    del view._values["s1"]  # as though this worker had not read it yet
    barriers: list[str] = []

    async def synced() -> None:  # the barrier reads the record the other worker had read
        barriers.append("synced")
        view.apply("s1", written, 1)

    monkeypatch.setattr(view, "synced", synced)
    await _deliver(stage, _task())
    assert barriers == ["synced"]
    assert len(stage.receiver.hits) == 1
    view.apply("s1", None, 2)  # now deleted, and known to be: no barrier
    await _deliver(stage, _task(delivery_id="d2", webhook_id="msg_2"))
    assert barriers == ["synced"]
    assert len(stage.receiver.hits) == 1


async def test_a_task_whose_subscription_cannot_be_read_waits_and_is_then_delivered(
    stage: Stage,
) -> None:
    """Issue 23: an unreadable record is not a deleted one. The task is held (its offset stays
    uncommitted) until the record can be read, and only then delivered."""
    subscription = stage.subscribe(200)
    stage.delivery.subscriptions._consume(b"s1", b'{"id": "s1", "enabled": "no"}', 1)
    held = asyncio.create_task(_deliver(stage, _task()))
    await asyncio.sleep(0.05)
    assert not held.done()
    assert stage.receiver.hits == []
    assert metrics.DELIVERIES_WAITING_CONFIG._value.get() == 1
    stage.delivery.subscriptions.apply("s1", subscription, 2)  # the record rewritten
    await asyncio.wait_for(held, 5)
    assert len(stage.receiver.hits) == 1
    assert metrics.DELIVERIES_WAITING_CONFIG._value.get() == 0


async def test_a_held_task_is_dropped_once_its_subscription_is_deleted(stage: Stage) -> None:
    stage.subscribe(200)
    stage.delivery.subscriptions._consume(b"s1", b"{not json", 1)
    held = asyncio.create_task(_deliver(stage, _task()))
    await asyncio.sleep(0.05)
    assert not held.done()
    stage.delivery.subscriptions.apply("s1", None, 2)  # a tombstone: deleted
    await asyncio.wait_for(held, 5)
    assert stage.receiver.hits == []
    assert stage.producer.writes == []


async def test_a_record_that_is_not_json_is_a_dead_letter_on_events_invalid(
    stage: Stage,
) -> None:
    await deliver_one(stage.delivery, b"\x00 not a task")
    [letter] = stage.producer.on("events.invalid")
    assert (letter["stage"], letter["reason"]) == ("deliver", "unreadable_record")
    assert stage.receiver.hits == []


async def _ordered(stage: Stage, task: dict[str, Any]) -> bool:
    """The task run in an ordered lane, as the agent runs it (`TierLanes`)."""
    return await handle(stage.delivery, decode_task(orjson.dumps(task)), asyncio.Semaphore(4))


async def test_an_ordered_task_is_retried_in_place_holding_its_lane_until_it_succeeds(
    stage: Stage,
) -> None:
    """Issue 26: a later task of the subject must not pass it, so no retry tier (whose agent
    runs beside this one) gets it; its lane is shown held while it waits."""
    stage.delivery.settings = load_settings(
        allow_private_destinations=True, retry_schedule=(0.2, 0.2)
    )
    failing = stage.subscribe(503, ordering="subject")
    running = asyncio.ensure_future(_ordered(stage, _task()))
    async with asyncio.timeout(5):
        while not stage.delivery.held:  # noqa: ASYNC110 - a deadline poll of a plain dict
            await asyncio.sleep(0.01)
    [(count, waited)] = [stage.delivery.held_lanes()["s1"]]
    assert (count, waited >= 0) == (1, True)
    stage.delivery.subscriptions.apply(
        "s1", msgspec.structs.replace(failing, url=stage.base + "/hook/200"), 1
    )
    assert await asyncio.wait_for(running, 5) is True
    assert [hit[0] for hit in stage.receiver.hits] == ["/hook/503", "/hook/200"]
    assert [a["outcome"] for a in stage.producer.on("deliveries.attempts")] == [
        "retry",
        "delivered",
    ]
    assert [a["attempt"] for a in stage.producer.on("deliveries.attempts")] == [1, 2]
    assert all(not t.startswith("deliveries.retry") for t, _, _ in stage.producer.writes)
    assert stage.table.marked == stage.table.acked_marks == ["msg_1"]
    assert stage.delivery.held == {}


async def test_an_ordered_task_whose_retries_run_out_ends_dead(stage: Stage) -> None:
    stage.delivery.settings = load_settings(
        allow_private_destinations=True, retry_schedule=(0.05, 0.05)
    )
    stage.subscribe(500, ordering="subject")
    assert await asyncio.wait_for(_ordered(stage, _task()), 5) is False
    assert len(stage.receiver.hits) == 3
    [dead] = stage.producer.on("deliveries.dead")
    assert (dead["dead_reason"], dead["attempt"]) == ("exhausted", 3)
    [key] = [k for t, k, _ in stage.producer.writes if t == "deliveries.dead"]
    assert key == b"s1 posts/1"  # its subject's partition: dead letters keep the order
    assert all(not t.startswith("deliveries.retry") for t, _, _ in stage.producer.writes)
    assert stage.delivery.held == {}
