"""Health transitions: what marks an instance unhealthy, what heals it, when records are written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from prometheus_client import REGISTRY

from pipeline.config.view import CompactedView
from pipeline.errors import KafkaUnavailableError
from pipeline.pollers.instance_health import (
    HealthBoard,
    HealthTracker,
    InstanceHealth,
    decode_health,
    shown_health,
)
from pipeline.providers.errors import (
    AuthError,
    ProviderResponseError,
    ProviderUnavailableError,
    RateLimitedError,
)
from tests.unit.pollers.conftest import INSTANCE_ID, TOPICS, FakeWriter, assert_valid

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def view() -> CompactedView[InstanceHealth]:
    return CompactedView("127.0.0.1:1", TOPICS.instances_health, decode_health)


@pytest.fixture
def board() -> HealthBoard:
    return HealthBoard()


def tracker(
    writer: FakeWriter, view: CompactedView[InstanceHealth], board: HealthBoard
) -> HealthTracker:
    return HealthTracker(INSTANCE_ID, writer, TOPICS.instances_health, view, board)


def statuses(writer: FakeWriter) -> list[tuple[str, str | None]]:
    return [(r.value["status"], r.value["reason"]) for r in writer.records]


def gauge(status: str) -> float | None:
    return REGISTRY.get_sample_value("pipeline_poller_instances", {"health": status})


async def test_a_token_failure_marks_the_instance_unhealthy_at_once(
    writer: FakeWriter, view: CompactedView[InstanceHealth], board: HealthBoard
) -> None:
    health = tracker(writer, view, board)
    assert gauge("pending") == 1

    await health.failed(AuthError("token request refused: HTTP 401 (codes 40100)"), T0)

    assert statuses(writer) == [("unhealthy", "auth_failed")]
    record = writer.records[0]
    assert record.key == INSTANCE_ID
    assert_valid("instance-health.json", record.value)
    assert record.value["message"] == "token request refused: HTTP 401 (codes 40100)"
    stored = view.get(INSTANCE_ID)  # the admin API's view sees it at once
    assert stored is not None
    assert shown_health(stored) == record.value
    assert (gauge("unhealthy"), gauge("pending")) == (1, 0)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ProviderUnavailableError("GET /v1/messages: HTTP 503"), "provider_unavailable"),
        (RateLimitedError("GET /v1/messages: HTTP 429"), "rate_limited"),
    ],
)
async def test_retriable_failures_mark_it_unhealthy_only_when_repeated(
    writer: FakeWriter,
    view: CompactedView[InstanceHealth],
    board: HealthBoard,
    error: Exception,
    reason: str,
) -> None:
    health = tracker(writer, view, board)
    assert isinstance(error, ProviderUnavailableError | RateLimitedError)

    await health.failed(error, T0)
    assert writer.records == []
    await health.failed(error, T0 + timedelta(seconds=60))

    assert statuses(writer) == [("unhealthy", reason)]


async def test_a_success_in_between_resets_the_count(
    writer: FakeWriter, view: CompactedView[InstanceHealth], board: HealthBoard
) -> None:
    health = tracker(writer, view, board)
    error = ProviderUnavailableError("GET /v1/messages: TimeoutError")

    await health.failed(error, T0)
    await health.succeeded(T0 + timedelta(seconds=1))
    await health.failed(error, T0 + timedelta(seconds=2))

    assert statuses(writer) == [("healthy", None)]


async def test_a_successful_cycle_heals_it(
    writer: FakeWriter, view: CompactedView[InstanceHealth], board: HealthBoard
) -> None:
    health = tracker(writer, view, board)
    await health.failed(ProviderResponseError("GET /v1/messages: HTTP 400"), T0)

    await health.succeeded(T0 + timedelta(seconds=30))

    assert statuses(writer) == [("unhealthy", "bad_response"), ("healthy", None)]
    healed = writer.records[-1].value
    assert_valid("instance-health.json", healed)
    assert healed["since"] == healed["last_success_at"] == "2026-03-02T09:00:30.000Z"
    assert healed["message"] is None
    assert (gauge("healthy"), gauge("unhealthy")) == (1, 0)


async def test_same_status_is_rewritten_at_most_once_a_minute(
    writer: FakeWriter, view: CompactedView[InstanceHealth], board: HealthBoard
) -> None:
    health = tracker(writer, view, board)
    for second in range(0, 130, 10):
        await health.succeeded(T0 + timedelta(seconds=second))

    checked = [r.value["checked_at"] for r in writer.records]
    assert checked == [
        "2026-03-02T09:00:00.000Z",
        "2026-03-02T09:01:00.000Z",
        "2026-03-02T09:02:00.000Z",
    ]
    assert {r.value["since"] for r in writer.records} == {"2026-03-02T09:00:00.000Z"}
    assert writer.records[-1].value["last_success_at"] == "2026-03-02T09:02:00.000Z"


async def test_a_restarted_tracker_carries_on_from_the_stored_record(
    writer: FakeWriter, view: CompactedView[InstanceHealth], board: HealthBoard
) -> None:
    await tracker(writer, view, board).succeeded(T0)
    writer.clear()

    again = tracker(writer, view, board)
    await again.succeeded(T0 + timedelta(seconds=5))
    assert writer.records == []
    await again.failed(AuthError("token request refused: HTTP 401"), T0 + timedelta(seconds=6))

    assert writer.records[0].value["since"] == "2026-03-02T09:00:06.000Z"
    # The unwritten success at 09:00:05 is not forgotten either.
    assert writer.records[0].value["last_success_at"] == "2026-03-02T09:00:05.000Z"


async def test_a_refused_write_is_retried_with_the_next_outcome(
    writer: FakeWriter, view: CompactedView[InstanceHealth], board: HealthBoard
) -> None:
    health = tracker(writer, view, board)
    writer.refuse_topic = TOPICS.instances_health
    with pytest.raises(KafkaUnavailableError):
        await health.succeeded(T0)
    writer.refuse_topic = None

    await health.succeeded(T0 + timedelta(seconds=1))

    assert statuses(writer) == [("healthy", None)]


def test_old_records_decode_and_records_of_another_shape_are_refused() -> None:
    old = b'{"instance_id": "i", "status": "healthy", "since": "t", "checked_at": "t"}'
    assert decode_health(old).reason is None
    with pytest.raises(msgspec.ValidationError, match="Invalid enum value 'pending'"):
        decode_health(old.replace(b"healthy", b"pending"))
    with pytest.raises(msgspec.ValidationError, match="missing required field `since`"):
        decode_health(b'{"instance_id": "i", "status": "healthy", "checked_at": "t"}')
