"""One poll cycle: state diffing, write order, the tracked-message fallback and tombstones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pipeline.errors import KafkaUnavailableError
from pipeline.pollers.hootsuite_api import HootsuiteClient
from pipeline.pollers.message_poller import MessagePoller
from pipeline.pollers.polling_config import PollingConfig
from pipeline.pollers.state import PollerStateView
from pipeline.simulators.hootsuite import SimulatorState, create_simulator
from tests.unit.pollers.conftest import (
    INSTANCE_ID,
    TOPICS,
    FakeWriter,
    assert_valid,
    client_of,
    faults_on_next_page,
    make_instance,
    utcnow,
)


def make_poller(
    hootsuite: HootsuiteClient,
    writer: FakeWriter,
    poller_state: PollerStateView,
    **polling: Any,
) -> MessagePoller:
    instance = make_instance(**polling)
    return MessagePoller(
        instance_id=instance.id,
        config=PollingConfig.from_instance(instance),
        client=hootsuite,
        writer=writer,
        state=poller_state,
        topics=TOPICS,
    )


@pytest.fixture
def poller(
    hootsuite: HootsuiteClient, writer: FakeWriter, poller_state: PollerStateView
) -> MessagePoller:
    return make_poller(hootsuite, writer, poller_state)


def snapshots(writer: FakeWriter) -> list[tuple[str, str | None]]:
    """(item id, state or DELETED) of every polls.raw record, in write order."""
    return [
        (r.value["item_id"], r.value["item"]["state"] if r.value["item"] else "DELETED")
        for r in writer.on(TOPICS.polls_raw)
    ]


async def test_first_cycle_reports_every_message_snapshot_before_its_state(
    poller: MessagePoller, provider: SimulatorState, writer: FakeWriter
) -> None:
    now = utcnow()
    first = provider.add_message(now + timedelta(hours=1))["id"]
    second = provider.add_message(now - timedelta(hours=1), state="SENT")["id"]
    provider.add_message(now + timedelta(days=30))  # beyond the 7-day look-ahead

    report = await poller.poll_once(now)

    assert sorted(snapshots(writer)) == sorted([(first, "SCHEDULED"), (second, "SENT")])
    assert (report.listed, report.snapshots, report.fetched) == (2, 2, 0)
    for item_id in (first, second):
        order = [
            r.topic for r in writer.records if item_id in (r.key, r.value and r.value["item_id"])
        ]
        assert order == [TOPICS.polls_raw, TOPICS.pollers_state]
    for record in writer.on(TOPICS.polls_raw):
        assert record.key == INSTANCE_ID
        assert_valid("poll-snapshot.json", record.value)
        assert record.value["options"] == {"include_raw": True}
    for record in writer.on(TOPICS.pollers_state):
        assert record.key == f"{INSTANCE_ID}/{record.value['item_id']}"
        assert_valid("poller-state.json", record.value)


async def test_unchanged_states_write_nothing_and_cost_one_listing(
    poller: MessagePoller, provider: SimulatorState, writer: FakeWriter
) -> None:
    now = utcnow()
    provider.add_message(now + timedelta(hours=1))
    await poller.poll_once(now)
    writer.clear()
    before = sum(provider.requests.values())

    report = await poller.poll_once(now + timedelta(seconds=60))

    assert writer.records == []
    assert report.snapshots == 0
    assert sum(provider.requests.values()) - before == 1


async def test_a_state_change_is_reported_once(
    poller: MessagePoller, provider: SimulatorState, writer: FakeWriter
) -> None:
    now = utcnow()
    message_id = provider.add_message(now + timedelta(minutes=5))["id"]
    await poller.poll_once(now)
    provider.set_state(message_id, "SENT")
    writer.clear()

    await poller.poll_once(now + timedelta(seconds=60))
    await poller.poll_once(now + timedelta(seconds=120))

    assert snapshots(writer) == [(message_id, "SENT")]
    assert writer.on(TOPICS.pollers_state)[0].value["state"] == "SENT"


async def test_a_tracked_message_outside_the_window_is_fetched_by_id(
    poller: MessagePoller, provider: SimulatorState, writer: FakeWriter
) -> None:
    now = utcnow()
    message = provider.add_message(now + timedelta(hours=1))
    await poller.poll_once(now)
    # Rescheduled beyond the look-ahead, then approved: only GET /v1/messages/{id} can tell.
    message["scheduledSendTime"] = (now + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    writer.clear()

    unchanged = await poller.poll_once(now)
    provider.set_state(message["id"], "PENDING_APPROVAL")
    changed = await poller.poll_once(now)

    assert (unchanged.fetched, unchanged.snapshots) == (1, 0)
    assert (changed.fetched, changed.snapshots) == (1, 1)
    assert snapshots(writer) == [(message["id"], "PENDING_APPROVAL")]
    assert provider.requests["message"] == 2


async def test_a_message_deleted_at_the_provider_is_reported_gone_then_forgotten(
    poller: MessagePoller,
    provider: SimulatorState,
    writer: FakeWriter,
    poller_state: PollerStateView,
) -> None:
    now = utcnow()
    message_id = provider.add_message(now + timedelta(hours=1))["id"]
    await poller.poll_once(now)
    provider.delete_message(message_id)
    writer.clear()

    await poller.poll_once(now)
    await poller.poll_once(now)

    assert snapshots(writer) == [(message_id, "DELETED")]
    snapshot, tombstone = writer.records
    assert snapshot.value["deleted"] is True
    assert_valid("poll-snapshot.json", snapshot.value)
    assert (tombstone.topic, tombstone.key, tombstone.value) == (
        TOPICS.pollers_state,
        f"{INSTANCE_ID}/{message_id}",
        None,
    )
    assert poller_state.tracked(INSTANCE_ID) == {}


async def test_a_finished_message_that_leaves_the_window_is_forgotten_without_a_request(
    poller: MessagePoller,
    provider: SimulatorState,
    writer: FakeWriter,
    poller_state: PollerStateView,
) -> None:
    now = utcnow()
    message_id = provider.add_message(now - timedelta(hours=20), state="SENT")["id"]
    await poller.poll_once(now)
    writer.clear()

    report = await poller.poll_once(now + timedelta(hours=5))  # now older than the look-back

    assert [(r.topic, r.value) for r in writer.records] == [(TOPICS.pollers_state, None)]
    assert report.forgotten == 1
    assert provider.requests["message"] == 0
    assert message_id not in poller_state.tracked(INSTANCE_ID)


async def test_a_crash_between_snapshot_and_state_reports_the_state_again(
    poller: MessagePoller, provider: SimulatorState, writer: FakeWriter
) -> None:
    now = utcnow()
    message_id = provider.add_message(now + timedelta(hours=1))["id"]
    writer.refuse_topic = TOPICS.pollers_state

    with pytest.raises(KafkaUnavailableError):
        await poller.poll_once(now)
    writer.refuse_topic = None
    await poller.poll_once(now)
    await poller.poll_once(now)

    # Repeated, never lost: the worker's dedup drops the second copy.
    assert snapshots(writer) == [(message_id, "SCHEDULED"), (message_id, "SCHEDULED")]
    assert len(writer.on(TOPICS.pollers_state)) == 1


async def test_filters_and_include_raw_come_from_the_instance(
    hootsuite: HootsuiteClient,
    writer: FakeWriter,
    poller_state: PollerStateView,
    provider: SimulatorState,
) -> None:
    now = utcnow()
    wanted = provider.add_message(now, state="SCHEDULED", social_profile_id="7")["id"]
    provider.add_message(now, state="SENT", social_profile_id="7")
    provider.add_message(now, state="SCHEDULED", social_profile_id="8")
    poller = make_poller(
        hootsuite,
        writer,
        poller_state,
        include_raw=False,
        states=["SCHEDULED"],
        social_profile_ids=["7"],
    )

    await poller.poll_once(now)

    assert snapshots(writer) == [(wanted, "SCHEDULED")]
    assert writer.on(TOPICS.polls_raw)[0].value["options"] == {"include_raw": False}


async def test_throttling_and_token_expiry_mid_listing_still_report_every_message_once(
    provider: SimulatorState, writer: FakeWriter, poller_state: PollerStateView
) -> None:
    now = utcnow()
    expected = {provider.add_message(now + timedelta(minutes=n))["id"] for n in range(150)}
    app = create_simulator(provider)
    app.middlewares.insert(0, faults_on_next_page(provider))

    async with client_of(app) as hootsuite:
        report = await make_poller(hootsuite, writer, poller_state).poll_once(now)
        assert hootsuite.stats.rate_limit_waits == 1

    reported = [item_id for item_id, _ in snapshots(writer)]
    assert sorted(reported) == sorted(expected)
    assert report.snapshots == 150
    assert provider.requests["token"] == 2  # the first token, and its renewal after expiry
