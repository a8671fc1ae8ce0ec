"""`/v1/subscriptions`: CRUD on `config.subscriptions`, secret rotation, the delivery log and test
pings; and `/v1/event-types`, the catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from pipeline.events.types import EVENT_TYPES
from pipeline.ingress.readmodels import attempt_log as attempt_log_module
from tests.unit.ingress.admin_support import Admin, serving

SUBSCRIPTIONS = "unit.config.subscriptions"
HOOK = "https://receiver.example.com/in"


class FakeFollower:
    """Stands in for the attempt log's topic follower: `deliver` is a record it read."""

    made: list[FakeFollower] = []  # noqa: RUF012

    def __init__(self, bootstrap: str, topic: str, on_record: Any) -> None:
        self.deliver = on_record
        FakeFollower.made.append(self)


@pytest.fixture
async def admin(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Admin]:
    FakeFollower.made = []
    monkeypatch.setattr(attempt_log_module, "TopicFollower", FakeFollower)
    async with serving() as admin:
        yield admin


async def _create(admin: Admin, **fields: Any) -> dict[str, Any]:
    status, shown = await admin.call("POST", "/subscriptions", {"url": HOOK, **fields})
    assert status == 201, shown
    return dict(shown)


async def test_create_shows_the_secret_once_and_writes_it_sealed(admin: Admin) -> None:
    shown = await _create(admin, id="s1", name="mine", event_types=["post.*"])
    secret = shown.pop("secret")
    assert secret.startswith("whsec_")
    assert (shown["id"], shown["name"], shown["event_types"]) == ("s1", "mine", ["post.*"])
    assert shown["enabled"] is True
    [(key, value)] = admin.producer.on(SUBSCRIPTIONS)
    assert key == b"s1"
    assert value is not None
    assert secret.encode() not in value
    assert admin.ingress.codec.subscription_from_json(value).secret == secret
    status, again = await admin.call("GET", "/subscriptions/s1")
    assert status == 200
    assert "secret" not in again
    assert again == shown


async def test_an_existing_id_is_409(admin: Admin) -> None:
    await _create(admin, id="s1", name="a")
    status, answer = await admin.call(
        "POST", "/subscriptions", {"id": "s1", "name": "b", "url": HOOK}
    )
    assert (status, answer["error"]["code"]) == (409, "conflict")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": HOOK}, "name"),
        ({"name": "n", "url": "https://user:pw@r.example/"}, "url"),
        ({"name": "n", "url": HOOK, "event_types": ["post.exploded"]}, "event_types"),
        ({"name": "n", "url": HOOK, "id": "not ok!"}, "id"),
    ],
)
async def test_a_bad_field_is_422_naming_it(admin: Admin, body: dict[str, Any], field: str) -> None:
    status, answer = await admin.call("POST", "/subscriptions", body)
    assert status == 422
    assert answer["error"]["code"] == "invalid_field"
    assert answer["error"]["message"].startswith(f"{field}")
    assert admin.producer.records == []


async def test_list_counts_and_filters(admin: Admin) -> None:
    await _create(admin, id="a", name="alpha", event_types=["post.*"])
    await _create(admin, id="b", name="beta", event_types=["lead.created"])
    status, listed = await admin.call("GET", "/subscriptions")
    assert status == 200
    assert listed["total"] == 2
    assert all("secret" not in shown for shown in listed["data"])
    _, posts = await admin.call("GET", "/subscriptions?event_type=post.sent")
    assert [shown["id"] for shown in posts["data"]] == ["a"]
    status, answer = await admin.call("GET", "/subscriptions?count=7")
    assert status == 422
    assert answer["error"]["message"].startswith("count: ")


async def test_patch_delete_and_unknown_ids(admin: Admin) -> None:
    await _create(admin, id="s1", name="old")
    status, shown = await admin.call("PATCH", "/subscriptions/s1", {"name": "new"})
    assert (status, shown["name"]) == (200, "new")
    assert admin.ingress.subscriptions.get("s1").name == "new"  # type: ignore[union-attr]
    status, _ = await admin.call("DELETE", "/subscriptions/s1")
    assert status == 204
    assert admin.producer.on(SUBSCRIPTIONS)[-1] == (b"s1", None)
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/rotate-secret")):
        status, answer = await admin.call(method, f"/subscriptions/s1{path}", {})
        assert status == 404, (method, path)
        assert answer["error"]["code"] == "not_found"


async def test_rotate_shows_a_new_secret_and_keeps_the_old_one_for_the_grace(
    admin: Admin,
) -> None:
    first = (await _create(admin, id="s1", name="n"))["secret"]
    status, rotated = await admin.call("POST", "/subscriptions/s1/rotate-secret")
    assert status == 200
    assert rotated["secret"] not in (first, None)
    stored = admin.ingress.subscriptions.get("s1")
    assert stored is not None
    assert (stored.secret, stored.previous_secret) == (rotated["secret"], first)
    assert rotated["previous_secret_expires"] is not None


async def test_a_test_ping_is_queued_on_deliveries(admin: Admin) -> None:
    await _create(admin, id="s1", name="n")
    status, answer = await admin.call("POST", "/subscriptions/s1/test")
    assert status == 202
    assert answer["queued"] == 1
    [(key, value)] = admin.producer.on("unit.deliveries")
    assert key == b"s1 subscriptions/s1"  # the subscription and the event's subject
    task = orjson.loads(value or b"")
    assert (task["subscription_id"], task["reason"], task["force"]) == ("s1", "test", True)
    assert task["event"]["id"] == answer["event_id"]
    assert (task["event"]["type"], task["event"]["subject"]) == (
        "pipeline.test",
        "subscriptions/s1",
    )


async def test_attempts_are_newest_first_and_paged(admin: Admin) -> None:
    await _create(admin, id="s1", name="n")
    [follower] = FakeFollower.made
    for offset in range(5):
        follower.deliver(b"s1", orjson.dumps({"attempt": offset}), offset)
    follower.deliver(b"other", orjson.dumps({"attempt": 99}), 5)
    follower.deliver(None, orjson.dumps({"subscription_id": "s1", "attempt": 6}), 6)
    status, page = await admin.call("GET", "/subscriptions/s1/attempts?count=2&page=2")
    assert status == 200
    assert (page["total"], page["page"], page["count"]) == (6, 2, 2)
    assert [attempt["attempt"] for attempt in page["data"]] == [3, 2]
    _, first = await admin.call("GET", "/subscriptions/s1/attempts")
    assert [attempt["attempt"] for attempt in first["data"]] == [6, 4, 3, 2, 1, 0]


@pytest.mark.parametrize("query", ["page=0", "count=101", "count=0", "page=x"])
async def test_bad_attempt_paging_is_422(admin: Admin, query: str) -> None:
    await _create(admin, id="s1", name="n")
    status, answer = await admin.call("GET", f"/subscriptions/s1/attempts?{query}")
    assert status == 422
    assert answer["error"]["code"] == "invalid_field"


async def test_kafka_down_is_503(admin: Admin) -> None:
    admin.producer.fail = True
    status, answer = await admin.call("POST", "/subscriptions", {"name": "n", "url": HOOK})
    assert (status, answer["error"]["code"]) == (503, "kafka_unavailable")
    assert list(admin.ingress.subscriptions.values()) == []


async def test_the_event_types_catalog(admin: Admin) -> None:
    status, answer = await admin.call("GET", "/event-types")
    assert status == 200
    assert [entry["type"] for entry in answer["data"]] == list(EVENT_TYPES)
    conversation = next(e for e in answer["data"] if e["type"] == "conversation.created")
    assert conversation["subject"] == "conversations/<id>"
    assert conversation["schema"]["properties"]["type"] == {"const": "conversation.created"}


async def test_a_subscription_this_process_cannot_read_is_503_not_404_and_can_be_deleted(
    admin: Admin,
) -> None:
    """Issue 23: unreadable is not deleted. Reading or changing it answers 503 naming the
    record; its id stays taken; a DELETE still deletes it; the ingress stays ready."""
    admin.ingress.subscriptions._consume(b"s9", b'{"id": "s9", "enabled": "no"}', 3)
    for method, body in (("GET", None), ("PATCH", {"name": "x"})):
        status, answer = await admin.call(method, "/subscriptions/s9", body)
        assert status == 503, (method, answer)
        assert answer["error"]["code"] == "config_unreadable"
        assert "unused/s9 (offset 3)" in answer["error"]["message"]
    status, _ = await admin.call("POST", "/subscriptions", {"id": "s9", "url": HOOK, "name": "n"})
    assert status == 409
    assert await admin.ingress.ready()  # the other instances' webhooks are still taken
    status, _ = await admin.call("DELETE", "/subscriptions/s9")
    assert status == 204
    assert admin.producer.on(SUBSCRIPTIONS) == [(b"s9", None)]
