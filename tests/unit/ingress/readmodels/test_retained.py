"""Reading retained records back (replay, redrive), over a stand-in for aiokafka's consumer that
serves records a test lays out per partition."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition

from pipeline.config.subscriptions import Subscription
from pipeline.ingress.readmodels import retained as replay_module
from pipeline.ingress.readmodels.retained import records_between
from tests.unit.ingress.admin_support import Admin, serving

T0 = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)


class FakeConsumer:
    """aiokafka's consumer, as records_between uses it, over `TOPICS[topic][partition]`: lists
    of (timestamp ms, value); a value of None is a tombstone. Batches of two records."""

    topics: dict[str, dict[int, list[tuple[int, bytes | None]]]] = {}  # noqa: RUF012
    made: list[FakeConsumer] = []  # noqa: RUF012

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.positions: dict[TopicPartition, int] = {}
        self.assigned: list[TopicPartition] = []
        self.stopped = False
        FakeConsumer.made.append(self)

    def _log(self, partition: TopicPartition) -> list[tuple[int, bytes | None]]:
        return FakeConsumer.topics[partition.topic][partition.partition]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {partition: len(self._log(partition)) for partition in partitions}

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    async def offsets_for_times(
        self, times: dict[TopicPartition, int]
    ) -> dict[TopicPartition, Any]:
        found: dict[TopicPartition, Any] = {}
        for partition, ms in times.items():
            offsets = [o for o, (ts, _) in enumerate(self._log(partition)) if ts >= ms]
            found[partition] = SimpleNamespace(offset=offsets[0]) if offsets else None
        return found

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    async def getmany(
        self, partition: TopicPartition, timeout_ms: int
    ) -> dict[TopicPartition, list[Any]]:
        start = self.positions[partition]
        records = [
            SimpleNamespace(offset=offset, timestamp=ts, value=value)
            for offset, (ts, value) in enumerate(self._log(partition))
        ][start : start + 2]
        self.positions[partition] = start + len(records)
        return {partition: records} if records else {}


@pytest.fixture(autouse=True)
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeConsumer.topics, FakeConsumer.made = {}, []

    async def partitions_of(bootstrap: str, topic: str) -> list[int]:
        return sorted(FakeConsumer.topics.get(topic, {}))

    monkeypatch.setattr(replay_module, "AIOKafkaConsumer", FakeConsumer)
    monkeypatch.setattr(replay_module, "partitions_of", partitions_of)


def _value(n: int, **fields: Any) -> bytes:
    return orjson.dumps({"n": n, **fields})


async def _collect(topic: str, start: datetime | None, end: datetime | None) -> list[int]:
    return [value["n"] async for value in records_between("kafka:9092", topic, start, end)]


async def test_everything_by_partition_without_a_range() -> None:
    FakeConsumer.topics["t"] = {
        0: [(MS0, _value(1)), (MS0 + 10, None), (MS0 + 20, _value(2))],
        1: [(MS0 + 5, _value(3))],
    }
    assert await _collect("t", None, None) == [1, 2, 3]  # the tombstone is skipped
    [consumer] = FakeConsumer.made
    assert consumer.config["enable_auto_commit"] is False
    assert consumer.stopped


async def test_only_the_records_whose_timestamp_is_in_the_range() -> None:
    FakeConsumer.topics["t"] = {
        0: [(MS0 + 1000 * s, _value(s)) for s in range(10)],
        1: [(MS0 + 1000 * s, _value(100 + s)) for s in (0, 4, 9)],
    }
    start, end = (
        datetime.fromtimestamp(T0.timestamp() + 3, UTC),
        datetime.fromtimestamp(T0.timestamp() + 6, UTC),
    )
    assert await _collect("t", start, end) == [3, 4, 5, 6, 104]


async def test_a_start_after_every_record_or_a_missing_topic_reads_nothing() -> None:
    FakeConsumer.topics["t"] = {0: [(MS0, _value(1))]}
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert await _collect("t", later, None) == []
    assert await _collect("missing", None, None) == []
    assert all(consumer.stopped for consumer in FakeConsumer.made)


async def test_an_empty_partition_is_passed_over() -> None:
    FakeConsumer.topics["t"] = {0: [], 1: [(MS0, _value(7))]}
    assert await _collect("t", None, None) == [7]


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    async with serving() as admin:
        subscription = Subscription(
            id="s1",
            name="s1",
            url="https://r.example/in",
            event_types=["post.*"],
            enabled=True,
            secret="whsec_c2VjcmV0",
            created="",
            modified="",
            instance_ids=["i1"],
        )
        admin.ingress.subscriptions.apply("s1", subscription, 0)
        yield admin


def _event(event_id: str, event_type: str = "post.sent", instance: str = "i1") -> dict[str, Any]:
    return {"id": event_id, "source": f"/instances/{instance}", "type": event_type,
            "instanceid": instance}  # fmt: skip


def _tasks(admin: Admin) -> list[dict[str, Any]]:
    return [orjson.loads(value or b"") for _, value in admin.producer.on("unit.deliveries")]


async def test_replay_queues_the_matching_events_in_the_range(admin: Admin) -> None:
    FakeConsumer.topics["unit.events.normalized"] = {
        0: [
            (MS0 - 1000, orjson.dumps(_event("before"))),
            (MS0, orjson.dumps(_event("e1"))),
            (MS0 + 1000, orjson.dumps(_event("lead", "lead.created"))),
            (MS0 + 2000, orjson.dumps(_event("other-instance", instance="i2"))),
            (MS0 + 3000, orjson.dumps(_event("e2"))),
            (MS0 + 90_000, orjson.dumps(_event("after"))),
        ]
    }
    body = {"from": "2025-11-20T12:00:00Z", "to": "2025-11-20T12:01:00Z"}
    status, answer = await admin.call("POST", "/subscriptions/s1/replay", body)
    assert (status, answer) == (202, {"queued": 2})
    tasks = _tasks(admin)
    assert [task["event"]["id"] for task in tasks] == ["e1", "e2"]
    assert {(t["subscription_id"], t["reason"], t["force"]) for t in tasks} == {
        ("s1", "replay", True)
    }
    assert [key for key, _ in admin.producer.on("unit.deliveries")] == [b"s1", b"s1"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "2025-11-20T12:00:00Z"}, "from"),
        ({"from": "yesterday", "to": "2025-11-20T12:00:00Z"}, "from"),
        ({"from": "2025-11-20T12:00:00Z", "to": 1763640000}, "to"),
        ({"from": "2025-11-20T13:00:00Z", "to": "2025-11-20T12:00:00Z"}, "from"),
    ],
)
async def test_a_bad_range_is_422(admin: Admin, body: dict[str, Any], field: str) -> None:
    status, answer = await admin.call("POST", "/subscriptions/s1/replay", body)
    assert status == 422
    assert answer["error"]["message"].startswith(f"{field}: ")
    assert FakeConsumer.made == []  # refused before reading anything


async def test_redrive_queues_each_dead_letter_of_the_subscription_once(admin: Admin) -> None:
    def dead(subscription_id: str, webhook_id: str, event_id: str) -> bytes:
        letter = {"subscription_id": subscription_id, "webhook_id": webhook_id}
        return orjson.dumps({**letter, "event": _event(event_id)})

    FakeConsumer.topics["unit.deliveries.dead"] = {
        0: [(MS0, dead("s1", "msg_1", "e1")), (MS0, dead("s2", "msg_9", "e9"))],
        1: [(MS0, dead("s1", "msg_2", "e2")), (MS0, dead("s1", "msg_1", "e1"))],
    }
    status, answer = await admin.call("POST", "/subscriptions/s1/redrive")
    assert (status, answer) == (202, {"queued": 2})
    tasks = _tasks(admin)
    assert [task["event"]["id"] for task in tasks] == ["e1", "e2"]
    assert {(t["reason"], t["force"]) for t in tasks} == {("redrive", False)}


async def test_redrive_queues_a_subjects_dead_letters_in_their_order_under_its_key(
    admin: Admin,
) -> None:
    """An ordered subscription's subject (issue 26): its dead letters, in the order of their
    partition, queued one after the other on the subject's partition of `deliveries`."""

    def dead(webhook_id: str, subject: str) -> bytes:
        event = {**_event(webhook_id), "subject": subject}
        return orjson.dumps({"subscription_id": "s1", "webhook_id": webhook_id, "event": event})

    FakeConsumer.topics["unit.deliveries.dead"] = {
        0: [(MS0, dead("msg_a1", "posts/a")), (MS0, dead("msg_b1", "posts/b"))],
        1: [(MS0, dead("msg_a2", "posts/a")), (MS0, dead("msg_a3", "posts/a"))],
    }
    status, _ = await admin.call("POST", "/subscriptions/s1/redrive")
    assert status == 202
    queued = [
        (key, orjson.loads(value or b"")["event"]["id"])
        for key, value in admin.producer.on("unit.deliveries")
    ]
    assert [event for key, event in queued if key == b"s1 posts/a"] == [
        "msg_a1",
        "msg_a2",
        "msg_a3",
    ]
    assert [event for key, event in queued if key == b"s1 posts/b"] == ["msg_b1"]


async def test_replay_and_redrive_of_an_unknown_subscription_are_404(admin: Admin) -> None:
    for action in ("replay", "redrive"):
        status, answer = await admin.call("POST", f"/subscriptions/ghost/{action}", {})
        assert status == 404
        assert answer["error"] == {"code": "not_found", "message": "no subscription 'ghost'"}
