"""pipeline.agents.normalize: a batch of raw records → new events, their delivery tasks and dead
letters written, then the events marked seen. faust's table and producer are stood in for."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from pipeline.agents.normalize import Normalizer, dedup_key
from pipeline.agents.route import Router
from pipeline.config.subscriptions import Subscription, decode_subscription
from pipeline.config.view import CompactedView
from pipeline.events.catalog import Catalog
from pipeline.settings import REPO_ROOT
from tests.support.payloads import oktopost_body

CATALOG = Catalog(REPO_ROOT / "topics")


class Record:
    """A faust event as the agent reads it: its value and the topic it came from."""

    def __init__(self, value: bytes | None, topic: str = "webhooks.raw") -> None:
        self.value = value
        self.message = SimpleNamespace(topic=topic)


class DedupTable:
    """The dedup table as the agent uses it: keys `seen` before, and the keys it `add`s."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.marked: list[str] = []

    def seen(self, key: str) -> bool:
        return key in self.known

    def add(self, key: str) -> None:
        self.marked.append(key)

    async def changelog_sent(self) -> None:
        return None


class Writer:
    """Kafka acks every write at once; each write notes what was marked seen by then."""

    def __init__(self, dedup: DedupTable) -> None:
        self.writes: list[tuple[str, bytes, bytes]] = []
        self.marked_when_written: list[int] = []
        self._dedup = dedup

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.writes.append((topic, key, value))
        self.marked_when_written.append(len(self._dedup.marked))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    async def send_all(self, records: Iterable[tuple[str, bytes, bytes]]) -> asyncio.Future[None]:
        for record in records:
            await self.send(*record)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    def on(self, topic: str) -> list[tuple[bytes, Any]]:
        return [(key, orjson.loads(value)) for t, key, value in self.writes if t == topic]


def _topic(name: str) -> SimpleNamespace:
    return SimpleNamespace(get_topic_name=lambda: name)


def _subscriptions(*subscriptions: Subscription) -> CompactedView[Subscription]:
    view: CompactedView[Subscription] = CompactedView("127.0.0.1:1", "subs", decode_subscription)
    for offset, subscription in enumerate(subscriptions):
        view.apply(subscription.id, subscription, offset)
    view.assume_read()
    return view


EVERYTHING = Subscription(
    id="all",
    name="all",
    url="https://r.example/",
    event_types=["*"],
    enabled=True,
    secret="whsec_eA",
    created="",
    modified="",
)


def normalizer(view: CompactedView[Subscription] | None = None) -> tuple[Normalizer, Writer]:
    dedup = DedupTable()
    writer = Writer(dedup)
    topics = SimpleNamespace(
        polls_raw=_topic("polls.raw"),
        events_normalized=_topic("events.normalized"),
        events_invalid=_topic("events.invalid"),
    )
    router = Router(
        view or _subscriptions(EVERYTHING), deliveries="deliveries", invalid="events.invalid"
    )
    built = Normalizer(
        topics=topics,  # type: ignore[arg-type]  # the stand-ins have what is used
        tables=SimpleNamespace(dedup=dedup),  # type: ignore[arg-type]
        catalog=CATALOG,
        writer=writer,  # type: ignore[arg-type]
        router=router,
    )
    return built, writer


def _dedup(built: Normalizer) -> DedupTable:
    table: DedupTable = built.tables.dedup  # type: ignore[assignment]
    return table


def envelope(body: bytes, instance_id: str = "inst1") -> bytes:
    return orjson.dumps(
        {
            "schema": "webhook-envelope/1",
            "request_id": "r1",
            "provider": "oktopost",
            "instance_id": instance_id,
            "received_at": "2025-11-20T12:00:00.000Z",
            "headers": {},
            "options": {"include_raw": True},
            "body": base64.b64encode(body).decode(),
        }
    )


SENT = envelope(oktopost_body("postSent"))


async def test_a_new_event_is_written_with_its_task_then_marked_seen() -> None:
    built, writer = normalizer()
    await built.handle([Record(SENT)])  # type: ignore[list-item]
    [(key, event)] = writer.on("events.normalized")
    assert key == event["subject"].encode()
    assert event["type"] == "post.sent"
    assert CATALOG.violation(event) is None
    [(task_key, task)] = writer.on("deliveries")
    assert (task_key, task["subscription_id"], task["reason"]) == (
        f"all {event['subject']}".encode(),
        "all",
        "live",
    )
    assert task["event"] == event
    assert writer.on("events.invalid") == []
    dedup = _dedup(built)
    assert dedup.marked == [dedup_key(event)] == [f"{event['source']} {event['id']}"]
    assert writer.marked_when_written == [0, 0]  # every write before any mark


async def test_an_event_seen_before_is_neither_written_nor_routed() -> None:
    built, writer = normalizer()
    await built.handle([Record(SENT)])  # type: ignore[list-item]
    [(_, event)] = writer.on("events.normalized")
    again, again_writer = normalizer()
    _dedup(again).known.add(dedup_key(event))
    await again.handle([Record(SENT)])  # type: ignore[list-item]
    assert again_writer.writes == []
    assert _dedup(again).marked == []


async def test_a_repeat_within_the_batch_is_written_once() -> None:
    built, writer = normalizer()
    other = envelope(oktopost_body("postSent", {"postId": "other"}))
    await built.handle([Record(SENT), Record(SENT), Record(other)])  # type: ignore[list-item]
    events = [event for _, event in writer.on("events.normalized")]
    assert len(events) == 2
    assert events[0]["id"] != events[1]["id"]
    assert len(writer.on("deliveries")) == 2
    assert len(_dedup(built).marked) == 2


async def test_a_record_that_cannot_be_read_is_a_dead_letter_and_the_batch_goes_on() -> None:
    built, writer = normalizer()
    await built.handle([Record(b"not json"), Record(SENT)])  # type: ignore[list-item]
    [(key, letter)] = writer.on("events.invalid")
    assert key == b""  # no instance known
    assert (letter["stage"], letter["reason"]) == ("normalize", "unreadable_record")
    assert letter["message"].startswith("not an envelope: ")
    assert len(writer.on("events.normalized")) == 1


async def test_a_dead_letter_of_a_known_instance_is_keyed_by_it() -> None:
    built, writer = normalizer()
    unknown = envelope(oktopost_body("postExploded", {"postId": "1"}), instance_id="inst7")
    await built.handle([Record(unknown)])  # type: ignore[list-item]
    [(key, letter)] = writer.on("events.invalid")
    assert (key, letter["reason"], letter["instance_id"]) == (
        b"inst7",
        "unknown_event_type",
        "inst7",
    )
    assert writer.on("events.normalized") == []


async def test_a_record_on_polls_raw_is_read_as_a_snapshot() -> None:
    built, writer = normalizer()
    await built.handle([Record(b"{}", topic="polls.raw")])  # type: ignore[list-item]
    [(_, letter)] = writer.on("events.invalid")
    assert letter["message"].startswith("not a snapshot: ")


async def test_an_unexpected_failure_is_an_internal_error_letter_holding_the_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built, writer = normalizer()

    def broken(event: dict[str, Any]) -> str | None:
        raise RuntimeError("catalog exploded")

    monkeypatch.setattr(built.catalog, "violation", broken)
    await built.handle([Record(SENT)])  # type: ignore[list-item]
    [(_, letter)] = writer.on("events.invalid")
    assert (letter["reason"], letter["exception"]["type"]) == ("internal_error", "RuntimeError")
    assert letter["message"] == "RuntimeError: catalog exploded"
    assert base64.b64decode(letter["record"]["base64"]) == SENT
    assert writer.on("events.normalized") == []


async def test_nothing_is_routed_before_the_subscriptions_are_loaded() -> None:
    view = _subscriptions(EVERYTHING)
    view.caught_up.clear()
    built, writer = normalizer(view)
    handling = asyncio.ensure_future(built.handle([Record(SENT)]))  # type: ignore[list-item]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not handling.done()
    assert writer.writes == []
    view.caught_up.set()
    await asyncio.wait_for(handling, 1)
    assert len(writer.on("deliveries")) == 1


async def test_a_batch_that_routes_nothing_does_not_wait_for_the_subscriptions() -> None:
    """Dead letters and repeats have no tasks: no read barrier, no wait for a loading view."""
    view = _subscriptions(EVERYTHING)
    view.caught_up.clear()
    built, writer = normalizer(view)
    await asyncio.wait_for(built.handle([Record(b"\x00 not an envelope")]), 1)  # type: ignore[list-item]
    assert len(writer.on("events.invalid")) == 1
    assert writer.on("deliveries") == []


async def test_an_event_no_subscription_wants_is_written_without_a_task() -> None:
    leads = Subscription(
        id="leads",
        name="l",
        url="https://r.example/",
        event_types=["lead.*"],
        enabled=True,
        secret="whsec_eA",
        created="",
        modified="",
    )
    built, writer = normalizer(_subscriptions(leads))
    await built.handle([Record(SENT)])  # type: ignore[list-item]
    assert len(writer.on("events.normalized")) == 1
    assert writer.on("deliveries") == []
