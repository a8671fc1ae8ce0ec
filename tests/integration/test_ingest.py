"""Signed webhooks in → one CloudEvent per real occurrence out (real broker, real HTTP)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
import pytest

from pipeline.config.instances import instance_key
from pipeline.events.catalog import Catalog
from pipeline.events.types import EVENT_TYPES
from pipeline.settings import REPO_ROOT
from tests.integration.conftest import Stack
from tests.support.kafka import read_topic
from tests.support.payloads import (
    hex_hmac,
    hootsuite_element,
    hootsuite_ping,
    oktopost_body,
    standard_request,
)

pytestmark = pytest.mark.integration
CATALOG = Catalog(REPO_ROOT / "topics")


async def new_instance(stack: Stack, provider: str, **fields: Any) -> dict[str, Any]:
    body = {"provider": provider, "id": f"{provider}-{uuid.uuid4().hex[:8]}", **fields}
    status, created = await stack.admin("POST", "/v1/instances", body)
    assert status == 201, created
    return dict(created)


def path_of(instance: dict[str, Any]) -> str:
    return f"/v1/webhooks/{instance['provider']}/{instance_key(instance['id'])}"


async def events_of(
    stack: Stack, instance: dict[str, Any], count: int, *, settle: float = 0.0
) -> list[dict[str, Any]]:
    source = f"/instances/{instance['id']}"

    def mine(values: list[Any]) -> list[dict[str, Any]]:
        return [v for v in values if v and v["source"] == source]

    values = await read_topic(
        stack.settings.kafka_bootstrap,
        stack.topic("events.normalized"),
        until=lambda values: len(mine(values)) >= count,
        settle=settle,
    )
    found = mine(values)
    for event in found:
        assert CATALOG.violation(event) is None, event
    return found


async def test_an_oktopost_webhook_becomes_one_normalized_event(stack: Stack) -> None:
    instance = await new_instance(stack, "oktopost", signing_secret="okto-secret")
    assert instance["webhook_url"] == stack.base_url + path_of(instance)
    body = oktopost_body("postSent")
    status, text = await stack.post(
        path_of(instance), body, {"X-Oktopost-Signature": hex_hmac("okto-secret", body)}
    )
    assert status == 202, text
    [event] = await events_of(stack, instance, 1)
    assert event["type"] == "post.sent"
    assert event["subject"] == "posts/0PS1"
    assert event["time"] == "2025-11-20T12:30:00.000Z"
    assert event["data"]["post_id"] == "0PS1"
    assert event["data"]["network"] == "LinkedIn"
    assert event["data"]["raw"] == orjson.loads(body)


async def test_oktopost_retrying_three_times_yields_one_event(stack: Stack) -> None:
    instance = await new_instance(stack, "oktopost", signing_secret="k")
    body = oktopost_body("newAssignment")
    headers = {"X-Oktopost-Signature": hex_hmac("k", body, "sha1")}
    statuses = [(await stack.post(path_of(instance), body, headers))[0] for _ in range(4)]
    assert statuses == [202] * 4  # the first delivery and Oktopost's three retries
    events = await events_of(stack, instance, 1, settle=4.0)
    assert [e["type"] for e in events] == ["conversation.assigned"]


async def test_a_wrong_signature_is_401_and_nothing_is_written(stack: Stack) -> None:
    instance = await new_instance(stack, "oktopost", signing_secret="right")
    forged = oktopost_body("postDeleted", data={"postId": "forged"})
    status, text = await stack.post(
        path_of(instance), forged, {"X-Oktopost-Signature": hex_hmac("wrong", forged)}
    )
    assert status == 401
    assert orjson.loads(text)["error"]["code"] == "invalid_signature"
    missing, _ = await stack.post(path_of(instance), forged)
    assert missing == 401
    genuine = oktopost_body("postDeleted", data={"postId": "genuine"})
    ok, _ = await stack.post(
        path_of(instance), genuine, {"X-Oktopost-Signature": hex_hmac("right", genuine)}
    )
    assert ok == 202
    raw = await read_topic(
        stack.settings.kafka_bootstrap,
        stack.topic("webhooks.raw"),
        until=lambda values: any(v["instance_id"] == instance["id"] for v in values),
    )
    bodies = [base64.b64decode(v["body"]) for v in raw if v["instance_id"] == instance["id"]]
    assert bodies == [genuine]


async def test_a_hootsuite_batch_is_one_event_per_element_and_a_resend_adds_none(
    stack: Stack,
) -> None:
    instance = await new_instance(stack, "hootsuite")
    batch = [
        hootsuite_element("700001", "SCHEDULED", "m1"),
        hootsuite_ping("700002"),
        hootsuite_element("700003", "SENT", "m1"),
        hootsuite_element("700004", "SEND_FAILED_PERMANENTLY", "m2"),
    ]
    status, text = await stack.post(path_of(instance), orjson.dumps(batch))
    assert (status, text) == (202, "")  # Hootsuite asks for an empty 2xx body
    await events_of(stack, instance, 3)
    status, _ = await stack.post(path_of(instance), orjson.dumps(batch))
    assert status == 202
    events = await events_of(stack, instance, 3, settle=4.0)
    assert sorted(e["type"] for e in events) == ["post.failed", "post.scheduled", "post.sent"]


async def test_a_ping_only_batch_is_answered_and_not_written(stack: Stack) -> None:
    instance = await new_instance(stack, "hootsuite")
    status, text = await stack.post(path_of(instance), orjson.dumps([hootsuite_ping("1")]))
    assert (status, text) == (200, "")


async def test_a_standard_webhooks_sender(stack: Stack) -> None:
    instance = await new_instance(stack, "standard")
    secret = instance["signing_secret"]  # generated, shown once
    assert secret.startswith("whsec_")
    status, shown = await stack.admin("GET", f"/v1/instances/{instance['id']}")
    assert status == 200
    assert "signing_secret" not in shown
    payload = {"type": "lead.created", "timestamp": "2025-11-20T08:00:00Z", "data": {"id": "L1"}}
    body, headers = standard_request(secret, f"msg_{uuid.uuid4().hex}", payload)
    status, text = await stack.post(path_of(instance), body, headers)
    assert status == 202, text
    [event] = await events_of(stack, instance, 1)
    assert (event["type"], event["subject"]) == ("lead.created", "leads/L1")


async def test_an_unparseable_body_is_400_and_kept_on_events_invalid(stack: Stack) -> None:
    instance = await new_instance(stack, "oktopost", signing_secret="k")
    garbage = b"event=postSent&this-is-not-json"
    status, text = await stack.post(
        path_of(instance), garbage, {"X-Oktopost-Signature": hex_hmac("k", garbage)}
    )
    assert status == 400
    assert orjson.loads(text)["error"]["code"] == "unparseable_body"
    invalid = await read_topic(
        stack.settings.kafka_bootstrap,
        stack.topic("events.invalid"),
        until=lambda values: any(v["instance_id"] == instance["id"] for v in values),
    )
    [dead] = [v for v in invalid if v["instance_id"] == instance["id"]]
    assert (dead["stage"], dead["reason"]) == ("ingress", "unparseable_body")
    assert base64.b64decode(dead["record"]["body"]) == garbage


async def test_unknown_disabled_and_deleted_instances_are_404(stack: Stack) -> None:
    status, text = await stack.post("/v1/webhooks/oktopost/bm9wZQ", b"{}")
    assert status == 404
    assert orjson.loads(text)["error"]["code"] == "unknown_instance"
    instance = await new_instance(stack, "hootsuite")
    batch = orjson.dumps([hootsuite_element("1", "SENT")])
    assert (await stack.post(path_of(instance), batch))[0] == 202
    status, _ = await stack.admin("PATCH", f"/v1/instances/{instance['id']}", {"enabled": False})
    assert status == 200
    assert (await stack.post(path_of(instance), batch))[0] == 404
    status, _ = await stack.admin("DELETE", f"/v1/instances/{instance['id']}")
    assert status == 204
    assert (await stack.admin("GET", f"/v1/instances/{instance['id']}"))[0] == 404
    assert (await stack.post(path_of(instance), batch))[0] == 404
    assert (await stack.post("/v1/webhooks/myspace/abc", batch))[0] == 404


async def test_a_body_over_the_limit_is_413(stack: Stack) -> None:
    instance = await new_instance(stack, "hootsuite")
    status, text = await stack.post(path_of(instance), b"[" + b" " * (1024 * 1024 + 10) + b"]")
    assert status == 413
    assert orjson.loads(text)["error"]["code"] == "body_too_large"


async def test_the_admin_api_requires_its_token(stack: Stack) -> None:
    status, text = await stack.post("/v1/instances", b'{"provider": "oktopost"}')
    assert status == 401
    assert orjson.loads(text)["error"]["code"] == "unauthorized"
    status, body = await stack.admin("POST", "/v1/instances", {"provider": "nope"})
    assert status == 422
    assert body["error"]["message"].startswith("provider:")


async def test_the_event_catalog(stack: Stack) -> None:
    status, body = await stack.admin("GET", "/v1/event-types")
    assert status == 200
    types = {entry["type"]: entry for entry in body["data"]}
    assert set(types) == set(EVENT_TYPES)  # 24 before the social platforms' 16
    assert types["platform.event"]["subject"] == "platform_events/<id>"
    assert types["post.sent"]["schema"]["properties"]["type"] == {"const": "post.sent"}
