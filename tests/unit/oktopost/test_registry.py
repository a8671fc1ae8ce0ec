from __future__ import annotations

import msgspec
import orjson

from pipeline.config.instances import OktopostWebhook, create_instance
from pipeline.events.cloudevent import Lineage
from pipeline.oktopost.registry import is_managed, wanted_events, webhook_secret
from pipeline.providers.oktopost import Oktopost

PUSHED = {
    "event": "postSent",
    "timestamp": 1763640000,
    "webhookId": "0WH1",
    "data": {"postId": "P1"},
}
LOGGED = {"event": "postSent", "data": {"postId": "P1"}}  # the webhook log's copy


def normalized_id(payload: dict[str, object], identity: str) -> str:
    lineage = Lineage("oktopost", "i1", "2025-11-20T12:30:01.000Z", identity=identity)
    [event] = Oktopost().normalize(payload, {}, lineage).events
    return str(event["id"])


def test_a_pushed_body_and_its_log_copy_get_one_id_by_content() -> None:
    assert normalized_id(PUSHED, "content") == normalized_id(LOGGED, "content")
    other = {**LOGGED, "data": {"postId": "P1", "sentAt": "2025-11-21 10:00:00"}}
    assert normalized_id(other, "content") != normalized_id(LOGGED, "content")
    # Unmanaged instances keep the delivery identity (webhook id + timestamp).
    assert normalized_id(PUSHED, "delivery") != normalized_id(LOGGED, "delivery")


def test_the_secret_is_the_one_of_the_webhook_the_request_names() -> None:
    instance, _ = create_instance(
        {"provider": "oktopost", "credentials": {"account_id": "a", "api_key": "k"}}
    )
    assert is_managed(instance)
    assert len(wanted_events(instance)) == 19
    instance = msgspec.structs.replace(
        instance, oktopost_webhooks={"0WH1": OktopostWebhook(event="postSent", secret="s1")}
    )
    assert webhook_secret(instance, {}, orjson.dumps(PUSHED)) == "s1"
    assert webhook_secret(instance, {}, orjson.dumps({**PUSHED, "webhookId": "0WH2"})) is None
    assert webhook_secret(instance, {"x-oktopost-webhook": "0WH1"}, b"not json") == "s1"
    shown = instance.public("http://x")
    assert shown["oktopost_webhooks"] == [{"id": "0WH1", "event": "postSent"}]
    assert "s1" not in str(shown["oktopost_webhooks"])


def test_an_oktopost_instance_without_an_account_is_not_managed() -> None:
    instance, _ = create_instance({"provider": "oktopost", "signing_secret": "x"})
    assert not is_managed(instance)
