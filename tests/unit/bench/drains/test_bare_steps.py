"""bench/drains/bare_steps.py: bare_flow's spec, its normalize + dedup + route step, the records
an attempt writes, and its signed, bounded POSTs (against a loopback receiver; no broker)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import msgspec
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.drains.bare_steps import (
    Delivering,
    FlowCounts,
    FlowSpec,
    Normalizing,
    concluded,
    delivered_changelog,
    spec_subscription,
)
from bench.payloads import Instances, Mix, WebhookFactory
from bench.receiver import LOG, create_app
from pipeline.delivery.outcome import Outcome, OutcomeKind
from pipeline.delivery.tasks import DeliveryTask, attempt_record, decode_task, new_task
from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import rfc3339
from pipeline.events.envelope import WebhookEnvelope, encode_envelope
from pipeline.http.standard_webhooks import generate_secret
from pipeline.settings import REPO_ROOT, Settings, load_settings

INSTANCES = Instances("okto-1", "/okto", "oktopost-secret", "hoot-1", "/hoot")
OTHER = Instances("okto-2", "/okto", "oktopost-secret", "hoot-2", "/hoot")
SECRET = generate_secret()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def flow_settings() -> Settings:
    return load_settings(topic_prefix="s1.bare.", app_id="s1-app-bare", dedup_window=100.0)


def envelope(request_path: str, body: bytes, instances: Instances) -> bytes:
    okto = request_path == instances.oktopost_path
    return encode_envelope(
        WebhookEnvelope(
            request_id=uuid.uuid4().hex,
            provider="oktopost" if okto else "hootsuite",
            instance_id=instances.oktopost_id if okto else instances.hootsuite_id,
            received_at=rfc3339(datetime.now(UTC)),
            body=body,
        )
    )


def backlog(instances: Instances, count: int, duplicates: float = 0.0) -> list[bytes]:
    factory = WebhookFactory(instances, Mix(duplicate_share=duplicates), uuid.uuid4().hex[:6])
    requests = [factory.next() for _ in range(count)]
    return [envelope(r.path, r.body, instances) for r in requests]


def normalizing(*subscriptions: dict[str, object]) -> Normalizing:
    spec = FlowSpec("s1.webhooks.raw", "g", list(subscriptions), {"topic_prefix": "s1.bare."})
    settings = spec.loaded_settings()
    return Normalizing(
        settings, Catalog(settings.topics_dir), spec.loaded_subscriptions(), FlowCounts()
    )


def test_the_spec_survives_its_file_and_gives_settings_and_subscriptions() -> None:
    subscription = spec_subscription("sub-1", "http://127.0.0.1:1/hook", SECRET, ["okto-1"])
    spec = FlowSpec(
        "s1.webhooks.raw", "g", [subscription], {"topic_prefix": "s1.bare."}, stop_after=5
    )
    again = FlowSpec.from_json(spec.to_json())
    assert again == spec
    assert again.loaded_settings().topic("deliveries") == "s1.bare.deliveries"
    [loaded] = again.loaded_subscriptions()
    assert (loaded.id, loaded.secret, loaded.enabled) == ("sub-1", SECRET, True)
    assert loaded.matches("post.sent", "okto-1")
    assert not loaded.matches("post.sent", "okto-2")


def test_a_spec_with_something_else_than_a_subscription_is_refused() -> None:
    spec = FlowSpec("s1.webhooks.raw", "g", [{"id": "sub-1"}], {})
    with pytest.raises(msgspec.ValidationError):
        spec.loaded_subscriptions()


def test_new_events_are_written_with_one_task_per_matching_subscription() -> None:
    mine = spec_subscription("sub-1", "http://127.0.0.1:1/hook", SECRET, ["okto-1", "hoot-1"])
    theirs = spec_subscription("sub-2", "http://127.0.0.1:1/hook", SECRET, ["okto-2", "hoot-2"])
    step = normalizing(mine, theirs)
    outputs, keys = step.prepare(backlog(INSTANCES, 20))
    by_topic = Counter(topic for topic, _, _ in outputs)
    assert by_topic["s1.bare.events.normalized"] == len(keys) == step.counts.events
    assert by_topic["s1.bare.deliveries"] == len(keys) == step.counts.tasks  # only sub-1's
    tasks = [decode_task(v) for t, _, v in outputs if t == "s1.bare.deliveries"]
    assert {task.subscription_id for task in tasks} == {"sub-1"}
    assert {key for t, key, _ in outputs if t == "s1.bare.deliveries"} == {b"sub-1"}
    events = [orjson.loads(v) for t, _, v in outputs if t == "s1.bare.events.normalized"]
    assert [orjson.loads(memoryview(t.event)) for t in tasks] == events  # the event as written
    assert step.counts.records == 20


def test_repeats_are_dropped_within_a_batch_and_once_marked() -> None:
    step = normalizing(spec_subscription("sub-1", "http://h/hook", SECRET, None))
    values = backlog(INSTANCES, 5)
    _, keys = step.prepare(values + values[:2])  # a provider resending two
    first = step.counts.events
    assert step.counts.repeats > 0
    assert first == len(keys) == len(set(keys))
    step.prepare(values)  # read again before the first batch was acked: not dropped yet
    assert step.counts.events == 2 * first
    step.mark(keys)
    after, fresh = step.prepare(values)
    assert (after, fresh) == ([], [])
    assert step.counts.events == 2 * first


def test_an_unreadable_envelope_becomes_a_dead_letter() -> None:
    step = normalizing()
    outputs, keys = step.prepare([b"not an envelope"])
    assert keys == []
    [(topic, _, value)] = outputs
    assert topic == "s1.bare.events.invalid"
    assert orjson.loads(value)["reason"] == "unreadable_record"
    assert step.counts.invalid == 1


def delivery_task() -> DeliveryTask:
    event = {"id": "e1", "source": "/instances/okto-1", "type": "post.sent", "subject": "posts/1"}
    return new_task("sub-1", event, reason="live")


@pytest.mark.parametrize(
    ("kind", "status", "marked"),
    [(OutcomeKind.DELIVERED, 200, True), (OutcomeKind.RETRY, 500, False)],
)
def test_an_attempt_writes_its_record_and_a_mark_only_when_delivered(
    kind: OutcomeKind, status: int, marked: bool
) -> None:
    settings = flow_settings()
    task = delivery_task()
    record = attempt_record(task, Outcome(kind, status, None, None), datetime.now(UTC), 0.01)
    outputs = concluded(settings, task, record)
    assert outputs[0][:2] == ("s1.bare.deliveries.attempts", b"sub-1")
    assert orjson.loads(outputs[0][2])["response_code"] == status
    marks = outputs[1:]
    assert bool(marks) is marked
    if marked:
        [(topic, key, value)] = marks
        assert (topic, orjson.loads(key)) == (delivered_changelog(settings), task.webhook_id)
        assert topic == "s1-app-bare-delivered-changelog"
        assert isinstance(orjson.loads(value), int)  # the time bucket, as faust writes it


async def test_posts_are_signed_counted_and_bounded_per_subscription() -> None:
    settings = load_settings(delivery_concurrency=6, delivery_concurrency_per_subscription=2)
    app = create_app()
    app[LOG].secret = SECRET
    in_flight, most = 0, 0

    @web.middleware
    async def slow(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return await handler(request)

    app.middlewares.append(slow)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        url = str(server.make_url("/hook"))
        subscription = spec_subscription("sub-1", url, SECRET, None)
        spec = FlowSpec("x", "g", [subscription], {})
        counts = FlowCounts()
        step = Delivering(settings, spec.loaded_subscriptions(), session, counts)
        events = [{"id": f"e{n}", "source": "/instances/i", "type": "post.sent"} for n in range(8)]
        tasks = [new_task("sub-1", event, reason="live") for event in events]
        unknown = new_task("sub-9", events[0], reason="live")
        written = await asyncio.gather(*(step.one(task) for task in [*tasks, unknown]))
        again = await step.one(tasks[0])  # already delivered: not sent twice
    log = app[LOG]
    assert sorted(log.event_ids) == sorted(e["id"] for e in events)
    assert all(log.signed)
    assert most == 2  # the subscription's bound, below the overall one
    assert (counts.delivered, counts.attempts, counts.failed) == (8, 8, 0)
    assert (counts.unknown_subscription, counts.suppressed) == (1, 1)
    assert [len(outputs) for outputs in written] == [2] * 8 + [0]  # record + mark each
    assert again == []


async def test_a_refused_connection_is_a_failed_attempt_not_an_error() -> None:
    settings = load_settings()
    subscription = spec_subscription("sub-1", "http://127.0.0.1:9/hook", SECRET, None)
    spec = FlowSpec("x", "g", [subscription], {})
    counts = FlowCounts()
    async with aiohttp.ClientSession() as session:
        step = Delivering(settings, spec.loaded_subscriptions(), session, counts)
        [(topic, _, value)] = await step.one(delivery_task())
    assert topic == settings.topic("deliveries.attempts")
    assert orjson.loads(value)["outcome"] == "retry"
    assert (counts.failed, counts.delivered) == (1, 0)


def test_bare_flow_runs_without_faust() -> None:
    code = (
        "import sys, bench.drains.bare_flow;"
        "print(any(m.split('.')[0] == 'faust' for m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "False"


def test_other_instances_events_are_written_but_routed_nowhere() -> None:
    step = normalizing(spec_subscription("sub-1", "http://h/hook", SECRET, ["okto-1", "hoot-1"]))
    outputs, keys = step.prepare(backlog(OTHER, 5))
    assert keys
    assert {topic for topic, _, _ in outputs} == {"s1.bare.events.normalized"}
    assert step.counts.tasks == 0
