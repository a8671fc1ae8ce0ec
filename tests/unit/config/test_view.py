"""pipeline.config.view: the latest value per key of a followed topic, fed record by record.

The topic follower (the Kafka consumer) is replaced by a stand-in that hands the view the records
a test gives it, as the real one does after reading them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from pipeline import metrics
from pipeline.config import view as view_module
from pipeline.config.keyring import KeyRing
from pipeline.config.sealing import ConfigCodec
from pipeline.config.subscriptions import Subscription, create_subscription
from pipeline.config.view import (
    CompactedView,
    Unreadable,
    UnreadableRecordError,
    unreadable_summary,
)


class FakeFollower:
    """Stands in for TopicFollower: `deliver` is a record read from the topic."""

    made: list[FakeFollower] = []  # noqa: RUF012 - every instance, in order

    def __init__(self, bootstrap: str, topic: str, on_record: Any) -> None:
        self.bootstrap, self.topic, self._on_record = bootstrap, topic, on_record
        self.caught_up = asyncio.Event()
        self.calls: list[str] = []
        FakeFollower.made.append(self)

    def deliver(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        self._on_record(key, value, offset)

    def start(self) -> None:
        self.calls.append("start")

    async def synced(self) -> None:
        self.calls.append("synced")

    async def stop(self) -> None:
        self.calls.append("stop")


@pytest.fixture(autouse=True)
def fake_follower(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeFollower.made = []
    monkeypatch.setattr(view_module, "TopicFollower", FakeFollower)


def _view() -> tuple[CompactedView[dict[str, Any]], FakeFollower]:
    view: CompactedView[dict[str, Any]] = CompactedView("kafka:9092", "unit.config", orjson.loads)
    [follower] = FakeFollower.made
    return view, follower


def test_it_follows_the_topic_it_was_given() -> None:
    _, follower = _view()
    assert (follower.bootstrap, follower.topic) == ("kafka:9092", "unit.config")


def test_the_latest_value_per_key_wins() -> None:
    view, follower = _view()
    follower.deliver(b"a", b'{"v": 1}', 0)
    follower.deliver(b"b", b'{"v": 2}', 1)
    follower.deliver(b"a", b'{"v": 3}', 2)
    assert view.get("a") == {"v": 3}
    assert view.get("b") == {"v": 2}
    assert view.get("c") is None
    assert view.items() == [("a", {"v": 3}), ("b", {"v": 2})]
    assert list(view.values()) == [{"v": 3}, {"v": 2}]


def test_a_tombstone_removes_the_key() -> None:
    view, follower = _view()
    follower.deliver(b"a", b'{"v": 1}', 0)
    follower.deliver(b"a", None, 1)
    assert view.get("a") is None
    assert view.items() == []
    follower.deliver(b"a", b'{"v": 2}', 2)  # written again after its deletion
    assert view.get("a") == {"v": 2}


def test_an_older_offset_for_a_key_is_a_stale_replay_and_ignored() -> None:
    view, follower = _view()
    view.apply("a", {"v": "written here"}, 5)  # the ingress applies its own write at once
    follower.deliver(b"a", b'{"v": "older"}', 4)
    assert view.get("a") == {"v": "written here"}
    follower.deliver(b"a", b'{"v": "same record read back"}', 5)
    assert view.get("a") == {"v": "same record read back"}


def test_a_stale_value_does_not_bring_a_deleted_key_back() -> None:
    view, follower = _view()
    view.apply("a", None, 7)
    follower.deliver(b"a", b'{"v": "before the delete"}', 6)
    assert view.get("a") is None
    follower.deliver(b"a", b'{"v": "after"}', 8)
    assert view.get("a") == {"v": "after"}


def test_an_unreadable_record_is_held_not_taken_for_a_deletion(
    caplog: pytest.LogCaptureFixture,
) -> None:
    view, follower = _view()
    follower.deliver(b"a", b'{"v": 1}', 0)
    with caplog.at_level(logging.ERROR, logger=view_module.__name__):
        follower.deliver(b"a", b"{not json", 1)
    found = view.lookup("a")
    assert isinstance(found, Unreadable)
    assert (found.topic, found.key, found.offset, found.key_id) == ("unit.config", "a", 1, None)
    with pytest.raises(UnreadableRecordError, match=r"unit.config/a \(offset 1\)"):
        view.get("a")  # neither the stale value nor "absent"
    assert view.holds("a")
    assert view.items() == []
    assert set(view.unreadable) == {"a"}
    assert "cannot read unit.config/a (offset 1)" in caplog.text


def test_a_readable_write_or_a_tombstone_settles_an_unreadable_key() -> None:
    view, follower = _view()
    follower.deliver(b"a", b"{not json", 0)
    follower.deliver(b"b", b"{not json", 1)
    follower.deliver(b"a", b'{"v": "rewritten"}', 2)
    follower.deliver(b"b", None, 3)
    assert view.get("a") == {"v": "rewritten"}
    assert view.lookup("b") is None
    assert not view.holds("b")
    assert view.unreadable == {}


def test_an_older_unreadable_record_does_not_hide_a_newer_value() -> None:
    view, follower = _view()
    view.apply("a", {"v": "written here"}, 5)
    follower.deliver(b"a", b"{not json", 4)
    assert view.get("a") == {"v": "written here"}
    assert view.unreadable == {}


def test_the_unreadable_count_is_exported_and_the_hook_hears_of_each() -> None:
    heard: list[Unreadable] = []
    view: CompactedView[dict[str, Any]] = CompactedView(
        "kafka:9092", "unit.gauge", orjson.loads, heard.append
    )
    [follower] = FakeFollower.made
    gauge = metrics.CONFIG_UNREADABLE.labels("unit.gauge")
    follower.deliver(b"a", b"{not json", 0)
    follower.deliver(b"b", b"{not json", 1)
    assert gauge._value.get() == 2
    assert [u.key for u in heard] == ["a", "b"]
    assert unreadable_summary([view]) == "unit.gauge: 2 record(s) cannot be read (a, b)"
    follower.deliver(b"a", b"{}", 2)
    assert gauge._value.get() == 1
    follower.deliver(b"b", None, 3)
    assert gauge._value.get() == 0
    assert unreadable_summary([view]) is None


async def test_changed_returns_at_the_next_record() -> None:
    view, follower = _view()
    waiter = asyncio.create_task(view.changed())
    await asyncio.sleep(0)
    assert not waiter.done()
    follower.deliver(b"a", b'{"v": 1}', 0)
    await asyncio.wait_for(waiter, 1.0)


def test_a_seal_the_ring_cannot_open_names_its_key_id() -> None:
    """The value a worker would have taken for a deleted subscription (issue 23)."""
    written_by = ConfigCodec(KeyRing((("local-aaaa", b"a" * 32),)))
    read_by = ConfigCodec(KeyRing((("local-bbbb", b"b" * 32),)))
    view: CompactedView[Subscription] = CompactedView(
        "kafka:9092", "unit.config", read_by.subscription_from_json
    )
    [follower] = FakeFollower.made
    sub = create_subscription({"id": "s1", "name": "n", "url": "https://example.com/h"})
    follower.deliver(b"s1", written_by.subscription_to_json(sub), 0)
    found = view.lookup("s1")
    assert isinstance(found, Unreadable)
    assert found.key_id == "local-aaaa"
    assert "not in this key ring" in found.reason
    assert sub.secret not in found.reason


def test_a_record_without_a_key_is_ignored() -> None:
    view, follower = _view()
    follower.deliver(None, b'{"v": 1}', 0)
    assert view.items() == []


async def test_start_synced_stop_and_caught_up_are_the_followers() -> None:
    view, follower = _view()
    assert view.caught_up is follower.caught_up
    view.start()
    await view.synced()
    await view.stop()
    assert follower.calls == ["start", "synced", "stop"]


def test_a_config_record_of_the_wrong_shape_is_held_unreadable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The typed decoder's refusal (JSON, but not a subscription) is an unreadable record."""
    codec = ConfigCodec(KeyRing.ephemeral())
    view: CompactedView[Subscription] = CompactedView(
        "kafka:9092", "unit.config", codec.subscription_from_json
    )
    [follower] = FakeFollower.made
    good = create_subscription({"id": "s1", "name": "n", "url": "https://example.com/h"})
    follower.deliver(b"s1", codec.subscription_to_json(good), 0)
    with caplog.at_level(logging.ERROR, logger=view_module.__name__):
        follower.deliver(b"s1", b'{"id": "s1", "enabled": "no"}', 1)
    found = view.lookup("s1")
    assert isinstance(found, Unreadable)
    assert found.key_id is None  # not a key ring's fault
    assert "cannot read unit.config/s1 (offset 1)" in caplog.text
    assert "Expected `bool`, got `str` - at `$.enabled`" in caplog.text
