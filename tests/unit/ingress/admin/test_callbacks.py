"""An instance's `callback_url` keeps one subscription, `cb-<instance id>`, in step with it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pipeline.config.subscriptions import Subscription
from tests.unit.ingress.admin_support import Admin, serving

SUBSCRIPTIONS = "unit.config.subscriptions"
HOOK = "https://receiver.example.com/in"


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    async with serving() as admin:
        yield admin


def _callback(admin: Admin, instance_id: str) -> Subscription | None:
    return admin.ingress.subscriptions.get(f"cb-{instance_id}")


async def test_an_instance_with_a_callback_url_gets_a_subscription_for_its_events(
    admin: Admin,
) -> None:
    body = {"id": "i1", "provider": "oktopost", "callback_url": HOOK}
    status, shown = await admin.call("POST", "/instances", body)
    assert status == 201
    subscription = _callback(admin, "i1")
    assert subscription is not None
    assert shown["callback_secret"] == subscription.secret
    assert subscription.secret.startswith("whsec_")
    assert (subscription.url, subscription.event_types, subscription.instance_ids) == (
        HOOK,
        ["*"],
        ["i1"],
    )
    assert subscription.format == "cloudevents"
    assert subscription.matches("post.sent", "i1")
    assert not subscription.matches("post.sent", "another")
    [(key, value)] = admin.producer.on(SUBSCRIPTIONS)
    assert key == b"cb-i1"
    assert value is not None
    assert subscription.secret.encode() not in value


async def test_without_a_callback_url_there_is_no_subscription(admin: Admin) -> None:
    _, shown = await admin.call("POST", "/instances", {"id": "i2", "provider": "oktopost"})
    assert "callback_secret" not in shown
    assert _callback(admin, "i2") is None
    assert admin.producer.on(SUBSCRIPTIONS) == []


async def test_a_changed_url_updates_the_subscription_and_keeps_its_secret(admin: Admin) -> None:
    await admin.call(
        "POST", "/instances", {"id": "i3", "provider": "oktopost", "callback_url": HOOK}
    )
    before = _callback(admin, "i3")
    assert before is not None
    other = "https://other.example.com/in"
    status, shown = await admin.call("PATCH", "/instances/i3", {"callback_url": other})
    assert status == 200
    assert "callback_secret" not in shown
    after = _callback(admin, "i3")
    assert after is not None
    assert (after.url, after.secret) == (other, before.secret)
    writes = len(admin.producer.on(SUBSCRIPTIONS))
    await admin.call("PATCH", "/instances/i3", {"name": "renamed"})  # nothing of the callback
    assert len(admin.producer.on(SUBSCRIPTIONS)) == writes


async def test_removing_the_url_or_the_instance_deletes_the_subscription(admin: Admin) -> None:
    for instance_id in ("i4", "i5"):
        body = {"id": instance_id, "provider": "oktopost", "callback_url": HOOK}
        await admin.call("POST", "/instances", body)
    await admin.call("PATCH", "/instances/i4", {"callback_url": None})
    assert _callback(admin, "i4") is None
    await admin.call("DELETE", "/instances/i5")
    assert _callback(admin, "i5") is None
    assert admin.producer.on(SUBSCRIPTIONS)[-2:] == [(b"cb-i4", None), (b"cb-i5", None)]


async def test_a_cloud_elements_body_keeps_its_format_and_signature_key(admin: Admin) -> None:
    body = {
        "id": "ce1",
        "element": {"key": "oktopost"},
        "configuration": {
            "event.notification.callback.url": HOOK,
            "event.notification.signature.key": "ce-key",
        },
    }
    status, shown = await admin.call("POST", "/instances", body)
    assert status == 201
    assert shown["has_callback_signature_key"] is True
    subscription = _callback(admin, "ce1")
    assert subscription is not None
    assert (subscription.format, subscription.signature_key) == ("cloud-elements", "ce-key")


async def test_the_subscription_id_of_a_long_instance_id_is_cut_to_64(admin: Admin) -> None:
    instance_id = "x" * 64
    body = {"id": instance_id, "provider": "oktopost", "callback_url": HOOK}
    assert (await admin.call("POST", "/instances", body))[0] == 201
    [(key, _)] = admin.producer.on(SUBSCRIPTIONS)
    assert key == f"cb-{instance_id}"[:64].encode()
    assert admin.ingress.subscriptions.get(key.decode()) is not None
