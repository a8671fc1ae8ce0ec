"""`/v1/instances`: create, list, read, patch, delete on `config.instances`; secrets shown once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from pipeline.config.instances import instance_key
from pipeline.pollers.instance_health import decode_health
from tests.unit.ingress.admin_support import PUBLIC_URL, Admin, serving

INSTANCES = "unit.config.instances"


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    async with serving() as admin:
        yield admin


async def test_create_writes_the_sealed_instance_and_shows_its_secret_once(admin: Admin) -> None:
    status, shown = await admin.call("POST", "/instances", {"id": "okto1", "provider": "oktopost"})
    assert status == 201
    secret = shown["signing_secret"]
    assert secret
    assert shown["has_signing_secret"] is True
    assert shown["webhook_url"] == f"{PUBLIC_URL}/v1/webhooks/oktopost/{instance_key('okto1')}"
    assert shown["health"] == {"status": "not_polled"}
    [(key, value)] = admin.producer.on(INSTANCES)
    assert key == b"okto1"
    assert value is not None
    assert secret.encode() not in value  # sealed on its way to Kafka
    stored = admin.ingress.codec.instance_from_json(value)
    assert (stored.provider, stored.signing_secret) == ("oktopost", secret)
    status, again = await admin.call("GET", "/instances/okto1")
    assert status == 200
    assert "signing_secret" not in again
    assert again["has_signing_secret"] is True


async def test_a_given_secret_is_kept_and_not_echoed(admin: Admin) -> None:
    body = {"id": "okto2", "provider": "oktopost", "signing_secret": "given-secret"}
    status, shown = await admin.call("POST", "/instances", body)
    assert status == 201
    assert "signing_secret" not in shown
    assert admin.ingress.instances.get("okto2").signing_secret == "given-secret"  # type: ignore[union-attr]


async def test_an_existing_id_is_409_and_nothing_is_written(admin: Admin) -> None:
    await admin.call("POST", "/instances", {"id": "dup", "provider": "oktopost"})
    status, answer = await admin.call("POST", "/instances", {"id": "dup", "provider": "oktopost"})
    assert status == 409
    assert answer["error"]["code"] == "conflict"
    assert len(admin.producer.on(INSTANCES)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "x1", "provider": "myspace"}, "provider"),
        ({"id": "bad id!", "provider": "oktopost"}, "id"),
        ({"id": "x2", "provider": "oktopost", "enabled": "yes"}, "enabled"),
        ({"id": "x3", "provider": "oktopost", "callback_url": "ftp://x.example/"}, "callback_url"),
    ],
)
async def test_a_bad_field_is_422_naming_it(
    admin: Admin, body: dict[str, object], field: str
) -> None:
    status, answer = await admin.call("POST", "/instances", body)
    assert status == 422
    assert answer["error"]["code"] == "invalid_field"
    assert answer["error"]["message"].startswith(f"{field}: ")
    assert admin.producer.records == []


@pytest.mark.parametrize(
    ("raw", "message"), [(b"{nope", "body: is not JSON"), (b"[1]", "body: must be a JSON object")]
)
async def test_a_body_that_is_not_a_json_object_is_422(
    admin: Admin, raw: bytes, message: str
) -> None:
    status, answer = await admin.call("POST", "/instances", raw=raw)
    assert status == 422
    assert answer["error"]["message"].startswith(message)


async def test_kafka_down_is_503_and_the_instance_is_not_there(admin: Admin) -> None:
    admin.producer.fail = True
    status, answer = await admin.call("POST", "/instances", {"id": "k1", "provider": "oktopost"})
    assert status == 503
    assert answer["error"] == {
        "code": "kafka_unavailable",
        "message": "Kafka is unavailable; retry later",
    }
    assert admin.ingress.instances.get("k1") is None


async def test_list_is_by_id_and_filters_on_every_tag(admin: Admin) -> None:
    for instance_id, tags in (("b", ["eu", "prod"]), ("a", ["eu"]), ("c", [])):
        body = {"id": instance_id, "provider": "oktopost", "tags": tags}
        assert (await admin.call("POST", "/instances", body))[0] == 201
    status, listed = await admin.call("GET", "/instances")
    assert status == 200
    assert [shown["id"] for shown in listed["data"]] == ["a", "b", "c"]
    _, tagged = await admin.call("GET", "/instances?tag=eu")
    assert [shown["id"] for shown in tagged["data"]] == ["a", "b"]
    _, both = await admin.call("GET", "/instances?tag=eu&tag=prod")
    assert [shown["id"] for shown in both["data"]] == ["b"]


async def test_an_unknown_instance_is_404_on_read_patch_and_delete(admin: Admin) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        status, answer = await admin.call(
            method, "/instances/ghost", {} if method == "PATCH" else None
        )
        assert status == 404, method
        assert answer["error"] == {"code": "not_found", "message": "no instance 'ghost'"}


async def test_patch_changes_the_fields_given_and_refuses_the_fixed_ones(admin: Admin) -> None:
    await admin.call("POST", "/instances", {"id": "p1", "provider": "oktopost", "name": "old"})
    status, shown = await admin.call("PATCH", "/instances/p1", {"name": "new", "enabled": False})
    assert status == 200
    assert (shown["name"], shown["enabled"]) == ("new", False)
    assert admin.ingress.instances.get("p1").name == "new"  # type: ignore[union-attr]
    status, answer = await admin.call("PATCH", "/instances/p1", {"provider": "hootsuite"})
    assert status == 422
    assert answer["error"]["message"].startswith("provider: cannot be changed")


async def test_delete_writes_a_tombstone(admin: Admin) -> None:
    await admin.call("POST", "/instances", {"id": "d1", "provider": "oktopost"})
    status, answer = await admin.call("DELETE", "/instances/d1")
    assert (status, answer) == (204, None)
    assert admin.producer.on(INSTANCES)[-1] == (b"d1", None)
    assert (await admin.call("GET", "/instances/d1"))[0] == 404


async def test_a_polled_instance_shows_its_health_or_pending(admin: Admin) -> None:
    body = {"id": "h1", "provider": "hootsuite", "polling": {"enabled": True}}
    _, shown = await admin.call("POST", "/instances", body)
    assert shown["health"] == {"status": "pending"}
    stored = (
        b'{"instance_id": "h1", "status": "healthy", "reason": null, "message": null,'
        b' "since": "2026-03-02T09:00:00Z", "checked_at": "2026-03-02T09:01:00Z",'
        b' "last_success_at": "2026-03-02T09:01:00Z"}'
    )
    admin.ingress.health.apply("h1", decode_health(stored), 0)
    _, shown = await admin.call("GET", "/instances/h1")
    assert shown["health"] == orjson.loads(stored)  # the stored record, as it was written
