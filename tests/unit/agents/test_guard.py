"""pipeline.agents.guard: unexpected errors become dead letters; infrastructure errors propagate."""

from __future__ import annotations

import base64
from pathlib import Path

import jsonschema
import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError

from pipeline import metrics
from pipeline.agents.guard import guarded
from pipeline.errors import KafkaUnavailableError
from pipeline.settings import REPO_ROOT

SCHEMA = orjson.loads(Path(REPO_ROOT / "topics/schemas/invalid-record.json").read_bytes())


async def test_an_unexpected_error_becomes_a_dead_letter_with_the_raw_record() -> None:
    written: list[bytes] = []

    async def dead_letter(value: bytes) -> None:
        written.append(value)

    async def handle() -> None:
        raise OverflowError("date value out of range")

    before = metrics.AGENT_ERRORS.labels("normalize")._value.get()
    await guarded("normalize", b'{"timestamp": 1e308}', handle, dead_letter)
    (record,) = [orjson.loads(value) for value in written]
    jsonschema.validate(record, SCHEMA)
    assert record["stage"] == "normalize"
    assert record["reason"] == "internal_error"
    assert record["exception"] == {"type": "OverflowError", "message": "date value out of range"}
    assert base64.b64decode(record["record"]["base64"]) == b'{"timestamp": 1e308}'
    assert metrics.AGENT_ERRORS.labels("normalize")._value.get() == before + 1


@pytest.mark.parametrize(
    "error", [KafkaTimeoutError(), KafkaUnavailableError("broker down"), ConnectionResetError()]
)
async def test_infrastructure_errors_retry_the_same_record_until_it_goes_through(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.agents.guard.RETRY_FIRST_SECONDS", 0.001)
    written: list[bytes] = []
    tries: list[int] = []

    async def dead_letter(value: bytes) -> None:
        written.append(value)

    async def handle() -> None:
        tries.append(1)
        if len(tries) < 4:
            raise error

    before = metrics.AGENT_RETRIES.labels("deliver")._value.get()
    await guarded("deliver", b"{}", handle, dead_letter)
    assert len(tries) == 4
    assert written == []
    assert metrics.AGENT_RETRIES.labels("deliver")._value.get() == before + 3


async def test_a_dead_letter_that_kafka_refuses_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pipeline.agents.guard.RETRY_FIRST_SECONDS", 0.001)
    written: list[bytes] = []

    async def dead_letter(value: bytes) -> None:
        if not written:
            written.append(b"refused")
            raise KafkaTimeoutError()
        written.append(value)

    async def handle() -> None:
        raise ValueError("bad")

    await guarded("route", b"{}", handle, dead_letter)
    assert written[0] == b"refused"
    assert orjson.loads(written[1])["reason"] == "internal_error"


async def test_a_record_handled_normally_writes_nothing() -> None:
    written: list[bytes] = []
    handled: list[bool] = []

    async def dead_letter(value: bytes) -> None:
        written.append(value)

    async def handle() -> None:
        handled.append(True)

    await guarded("route", b"{}", handle, dead_letter)
    assert handled == [True]
    assert written == []
