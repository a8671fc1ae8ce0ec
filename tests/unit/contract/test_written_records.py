"""What each stage writes matches its topic's schema: records built by the real code, not by hand.

The ingress and its admin API are driven over HTTP with Kafka replaced by a list; the worker's
records come from the functions the agents call (`Router.outputs`, `retry_task`, `dead_letter`,
`attempt`). The pollers' records are checked in tests/unit/pollers/, normalized events and
dead letters of normalization in the property tests (tests/support/totality.py).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from pipeline.agents.route import Router
from pipeline.config.instances import decode_instance, instance_key
from pipeline.config.keyring import KeyRing
from pipeline.config.sealing import seal_subscription
from pipeline.config.subscriptions import (
    Subscription,
    create_subscription,
    decode_subscription,
    disable_gone,
)
from pipeline.config.view import CompactedView
from pipeline.contract.topics import load_manifest
from pipeline.delivery.attempt import attempt
from pipeline.delivery.outcome import Outcome, OutcomeKind, classify
from pipeline.delivery.sender import Sender
from pipeline.delivery.tasks import attempt_record, dead_letter, new_task, retry_task
from pipeline.events.catalog import Catalog
from pipeline.ingress.context import Ingress
from pipeline.ingress.readmodels.attempt_log import AttemptLog
from pipeline.ingress.server import build_app
from pipeline.providers.normalize import normalize_webhook
from pipeline.settings import REPO_ROOT, load_settings
from tests.support.contract import SCHEMAS, assert_valid, is_valid
from tests.support.payloads import hex_hmac, oktopost_body

TOKEN = "unit-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CATALOG = Catalog(REPO_ROOT / "topics")


@dataclass(frozen=True)
class Meta:
    offset: int


class ListProducer:
    """Kafka as a list of (topic, key, value) with the prefix stripped from the topic."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> Meta:
        self.records.append((topic.removeprefix("unit."), key, value))
        return Meta(len(self.records))

    def values(self, topic: str) -> list[bytes]:
        return [value for name, _, value in self.records if name == topic and value is not None]


def _view(decode: Any) -> CompactedView[Any]:
    view: CompactedView[Any] = CompactedView("127.0.0.1:1", "unused", decode)
    view.caught_up.set()
    return view


class ReadyProbe:
    async def ready(self) -> bool:
        return True


@pytest.fixture
def producer() -> ListProducer:
    return ListProducer()


@pytest.fixture
async def ingress_url(producer: ListProducer) -> AsyncIterator[str]:
    ingress = Ingress(
        settings=load_settings(topic_prefix="unit.", admin_token=TOKEN),
        producer=producer,  # type: ignore[arg-type]  # the one method the handlers use
        instances=_view(decode_instance),
        health=_view(orjson.loads),
        subscriptions=_view(decode_subscription),
        attempt_log=AttemptLog("127.0.0.1:1", "unused"),
        probe=ReadyProbe(),  # type: ignore[arg-type]
    )
    async with TestServer(build_app(ingress), host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def _post(
    url: str, body: Any, headers: dict[str, str] | None = None, *, expect: int | None = None
) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers) as r,
    ):
        assert r.status == expect if expect else r.status < 300, await r.text()
        text = await r.text()
        return orjson.loads(text) if text else None


async def test_the_admin_api_writes_instances_and_subscriptions_as_their_schemas_say(
    ingress_url: str, producer: ListProducer
) -> None:
    base = ingress_url + "/v1"
    await _post(base + "/instances", {"provider": "oktopost", "id": "okto1"}, ADMIN)
    await _post(
        base + "/instances",
        {
            "provider": "hootsuite",
            "id": "hoot1",
            "callback_url": "https://example.com/cb",
            "polling": {"enabled": True, "interval_seconds": 30},
            "credentials": {"client_id": "c", "client_secret": "s", "refresh_token": "r"},
            "max_requests_per_second": 5,
            "burst": 10,
            "tags": ["team-a"],
        },
        ADMIN,
    )
    await _post(
        base + "/subscriptions",
        {"id": "sub1", "name": "n", "url": "https://example.com/h", "event_types": ["post.*"]},
        ADMIN,
    )
    await _post(base + "/subscriptions/sub1/rotate-secret", {}, ADMIN)
    instances = producer.values("config.instances")
    subscriptions = producer.values("config.subscriptions")
    assert len(instances) == 2
    assert len(subscriptions) == 3  # sub1, the callback subscription cb-hoot1, the rotation
    for value in instances:
        assert_valid("instance.json", value)
    for value in subscriptions:
        assert_valid("subscription.json", value)
    assert orjson.loads(subscriptions[-1])["previous_secret"] is not None


async def test_the_ingress_writes_envelopes_and_dead_letters_as_their_schemas_say(
    ingress_url: str, producer: ListProducer
) -> None:
    created = await _post(
        ingress_url + "/v1/instances", {"provider": "oktopost", "id": "okto1"}, ADMIN
    )
    await _post(ingress_url + "/v1/instances", {"provider": "hootsuite", "id": "hoot1"}, ADMIN)
    secret = created["signing_secret"]  # generated, shown once
    body = oktopost_body("postSent")
    await _post(
        ingress_url + "/v1/webhooks/oktopost/" + instance_key("okto1"),
        body,
        {"X-Oktopost-Signature": hex_hmac(secret, body)},
    )
    await _post(
        ingress_url + "/v1/webhooks/hootsuite/" + instance_key("hoot1"), b"not json", expect=400
    )
    [envelope] = producer.values("webhooks.raw")
    assert_valid("webhook-envelope.json", envelope)
    assert base64.b64decode(orjson.loads(envelope)["body"]) == body
    [invalid] = producer.values("events.invalid")
    assert_valid("invalid-record.json", invalid)
    assert orjson.loads(invalid)["reason"] == "unparseable_body"


async def test_a_test_ping_is_a_delivery_task_as_its_schema_says(
    ingress_url: str, producer: ListProducer
) -> None:
    subscription = {"id": "sub1", "name": "n", "url": "https://example.com/h"}
    await _post(ingress_url + "/v1/subscriptions", subscription, ADMIN)
    await _post(ingress_url + "/v1/subscriptions/sub1/test", {}, ADMIN)
    [task] = producer.values("deliveries")
    assert_valid("delivery-task.json", task)
    assert orjson.loads(task)["event"]["type"] == "pipeline.test"


def _event() -> dict[str, Any]:
    """A normalized event as the normalize agent writes it, from a real webhook envelope."""
    envelope = {
        "schema": "webhook-envelope/1",
        "request_id": "r1",
        "provider": "oktopost",
        "instance_id": "okto1",
        "received_at": "2026-12-06T05:00:00.000Z",
        "headers": {},
        "options": {"include_raw": True},
        "body": base64.b64encode(oktopost_body("postSent")).decode(),
    }
    assert_valid("webhook-envelope.json", envelope)
    [event] = normalize_webhook(orjson.dumps(envelope), CATALOG).events
    assert_valid("cloudevent.json", event)
    return event


def _subscription(url: str = "https://example.com/h") -> Subscription:
    return create_subscription({"id": "sub1", "name": "n", "url": url})


def test_routing_writes_delivery_tasks_as_their_schema_says() -> None:
    subscriptions: CompactedView[Subscription] = _view(decode_subscription)
    subscriptions.apply("sub1", _subscription(), 0)
    router = Router(subscriptions, deliveries="deliveries", invalid="events.invalid")
    event = _event()
    [(topic, key, value)] = router.outputs(event, orjson.dumps(event))
    assert (topic, key) == ("deliveries", f"sub1 {event['subject']}".encode())
    assert_valid("delivery-task.json", value)


@pytest.mark.parametrize(("reason", "force"), [("replay", True), ("redrive", False)])
def test_replayed_and_redriven_tasks_match_the_task_schema(reason: str, force: bool) -> None:
    assert_valid("delivery-task.json", new_task("sub1", _event(), reason=reason, force=force))


def test_retries_and_dead_letters_match_their_schemas() -> None:
    task = new_task("sub1", _event(), reason="live")
    unavailable = classify(503, {"Retry-After": "7"}, None, retry_after_cap=125)
    retried = retry_task(task, 5.0, unavailable)
    assert_valid("delivery-task.json", retried)
    assert retried.not_before is not None
    for reason, outcome in [
        ("exhausted", unavailable),
        ("gone", Outcome(OutcomeKind.DISABLE, 410, None, None)),
        ("refused", Outcome(OutcomeKind.REFUSED, None, None, "destination refused: private")),
        ("disabled", None),
    ]:
        assert_valid("delivery-dead.json", dead_letter(retried, reason, outcome))
    assert not is_valid("delivery-task.json", dead_letter(task, "exhausted", unavailable))


async def test_attempt_records_match_their_schema() -> None:
    task = new_task("sub1", _event(), reason="live")
    refused_to = _subscription("http://127.0.0.1:9/x")
    async with Sender() as sender:
        outcome, record = await attempt(task, refused_to, sender, load_settings())
    assert outcome.kind is OutcomeKind.REFUSED
    assert_valid("delivery-attempt.json", record)
    delivered = Outcome(OutcomeKind.DELIVERED, 204, None, None)
    assert_valid("delivery-attempt.json", attempt_record(task, delivered, datetime.now(UTC), 0.01))


def test_a_disabled_subscription_matches_its_schema() -> None:
    disabled = disable_gone(_subscription(), 410)
    assert_valid("subscription.json", seal_subscription(KeyRing.ephemeral(), disabled))


def test_pollers_shards_accepts_no_record_at_all() -> None:
    for value in [{}, None, "x", 0, [], {"instance_id": "i1"}]:
        assert not is_valid("no-records.json", value)


def test_every_topic_names_a_schema_that_exists() -> None:
    settings = load_settings(retry_schedule="5,25,125")
    for spec in load_manifest(settings):
        assert spec.value_schema is not None, f"{spec.name} has no value_schema"
        assert spec.value_schema.parent == SCHEMAS, spec.value_schema
        assert spec.value_schema.is_file()


def test_a_dead_letter_keeps_every_field_of_the_task_as_the_task_schema_types_it() -> None:
    task = orjson.loads((SCHEMAS / "delivery-task.json").read_bytes())["properties"]
    dead = orjson.loads((SCHEMAS / "delivery-dead.json").read_bytes())["properties"]
    for name, field in task.items():
        kept = {key: value for key, value in dead[name].items() if key != "description"}
        assert kept == {key: value for key, value in field.items() if key != "description"}, name
