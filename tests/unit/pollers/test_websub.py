"""The WebSub manager's plan: which channels to (re)subscribe, unsubscribe or forget, when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.config.instances import Instance
from pipeline.events.cloudevent import rfc3339
from pipeline.pollers.websub import RETRY_SECONDS, dropped, due
from pipeline.websub.leases import Lease, lease_key

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _instance(channels: list[str], **fields: object) -> Instance:
    values: dict[str, object] = {
        "id": "yt1",
        "provider": "youtube",
        "name": "yt",
        "enabled": True,
        "created": "",
        "modified": "",
        "channels": channels,
        **fields,
    }
    return Instance(**values)  # type: ignore[arg-type]  # the test's own fields


def _lease(channel: str, verified: datetime, seconds: int = 300, instance_id: str = "yt1") -> Lease:
    return Lease(
        instance_id=instance_id,
        channel_id=channel,
        topic="t",
        lease_seconds=seconds,
        verified_at=rfc3339(verified),
        expires_at=rfc3339(verified + timedelta(seconds=seconds)),
    )


def test_a_channel_without_a_lease_is_subscribed_once_then_waits_for_its_verification() -> None:
    instance = _instance(["UC1", "UC2"])
    leases = {lease_key("yt1", "UC2"): _lease("UC2", NOW)}
    now = NOW.timestamp()
    assert [(r.channel_id, r.mode) for r in due([instance], leases, {}, now)] == [
        ("UC1", "subscribe")
    ]
    asked = {lease_key("yt1", "UC1"): now}
    assert due([instance], leases, asked, now + 1) == []
    assert [r.channel_id for r in due([instance], leases, asked, now + RETRY_SECONDS)] == ["UC1"]


def test_a_lease_is_renewed_when_two_thirds_of_it_have_passed_not_before() -> None:
    instance = _instance(["UC1"])
    leases = {lease_key("yt1", "UC1"): _lease("UC1", NOW, seconds=300)}
    assert due([instance], leases, {}, NOW.timestamp() + 199) == []
    [renewal] = due([instance], leases, {}, NOW.timestamp() + 200)
    assert (renewal.channel_id, renewal.mode) == ("UC1", "subscribe")
    # a request made before the lease was verified does not hold back its renewal
    asked = {lease_key("yt1", "UC1"): NOW.timestamp() - 1}
    assert len(due([instance], leases, asked, NOW.timestamp() + 200)) == 1


def test_dropped_channels_are_unsubscribed_and_gone_instances_forgotten() -> None:
    instances = {
        "yt1": _instance(["UC1"]),
        "off": _instance(["UC1"], id="off", enabled=False),
    }
    leases = [
        _lease("UC1", NOW),
        _lease("UC9", NOW),
        _lease("UC1", NOW, instance_id="off"),
        _lease("UC1", NOW, instance_id="deleted"),
        _lease("UC1", NOW, instance_id="unreadable"),
    ]
    unsubscribe, forget = dropped(leases, instances, {"unreadable": object()})
    assert [(r.instance.id, r.channel_id, r.mode) for r in unsubscribe] == [
        ("yt1", "UC9", "unsubscribe")
    ]
    assert sorted(lease.instance_id for lease in forget) == ["deleted", "off"]
