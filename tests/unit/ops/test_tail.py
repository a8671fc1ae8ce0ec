"""`pipeline tail`: a topic's records as JSON lines, over a stand-in for aiokafka's consumer."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition

from pipeline.errors import PipelineError
from pipeline.ops import tail as tail_module
from pipeline.ops.tail import tail

RECORDS = [
    (0, b"k1", b'{"a": 1}'),
    (0, None, b"not json \xff"),
    (1, b"k2", None),
    (1, b"\x00", b"[1, 2]"),
]


class Consumer:
    made: list[Consumer] = []  # noqa: RUF012

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.seeks: list[str] = []
        self.stopped = False
        self.served = False
        Consumer.made.append(self)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.partitions = partitions

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.seeks.append("beginning")

    async def seek_to_end(self, *partitions: TopicPartition) -> None:
        self.seeks.append("end")

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        if self.served:
            return {}
        self.served = True
        batch: dict[TopicPartition, list[Any]] = {}
        for offset, (partition, key, value) in enumerate(RECORDS):
            record = SimpleNamespace(
                topic="unit.t", partition=partition, offset=offset, timestamp=1000 + offset,
                key=key, value=value,
            )  # fmt: skip
            batch.setdefault(TopicPartition("unit.t", partition), []).append(record)
        return batch


@pytest.fixture(autouse=True)
def consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    Consumer.made = []

    async def partitions_of(bootstrap: str, topic: str) -> list[int]:
        return [0, 1] if topic == "unit.t" else []

    monkeypatch.setattr(tail_module, "AIOKafkaConsumer", Consumer)
    monkeypatch.setattr(tail_module, "partitions_of", partitions_of)


async def test_every_record_is_a_json_line_with_its_key_and_value_decoded() -> None:
    out = io.StringIO()
    printed = await tail(
        "kafka:9092", "unit.t", from_beginning=True, limit=None, idle_timeout=0.0, out=out
    )
    assert printed == 4
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {
        "topic": "unit.t",
        "partition": 0,
        "offset": 0,
        "timestamp": 1000,
        "key": "k1",
        "value": {"a": 1},
    }
    assert lines[1]["key"] is None
    assert lines[1]["value"] == "not json \ufffd"  # not JSON: shown as text
    assert lines[2]["value"] is None  # a tombstone
    assert (lines[3]["key"], lines[3]["value"]) == ("\x00", [1, 2])
    [consumer] = Consumer.made
    assert consumer.seeks == ["beginning"]
    assert consumer.stopped


async def test_max_stops_after_that_many_and_the_default_starts_at_the_end() -> None:
    out = io.StringIO()
    printed = await tail(
        "kafka:9092", "unit.t", from_beginning=False, limit=2, idle_timeout=None, out=out
    )
    assert printed == 2
    assert len(out.getvalue().splitlines()) == 2
    assert Consumer.made[0].seeks == ["end"]


async def test_a_missing_topic_is_an_error_naming_it() -> None:
    with pytest.raises(PipelineError, match=r"topic unit\.nope does not exist"):
        await tail("kafka:9092", "unit.nope", from_beginning=True, limit=None, idle_timeout=0.0)
    assert Consumer.made[0].stopped
