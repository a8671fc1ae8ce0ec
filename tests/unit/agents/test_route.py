"""pipeline.agents.route: a task per matching subscription; a failure is the dead letter."""

from __future__ import annotations

import asyncio
import time

import msgspec
import orjson

from pipeline.agents.route import Router
from pipeline.config.subscriptions import Subscription, decode_subscription
from pipeline.config.view import CompactedView
from pipeline.delivery.signing import webhook_id

EVENT = {
    "id": "e1",
    "source": "/instances/i1",
    "type": "post.sent",
    "subject": "posts/1",
    "instanceid": "i1",
}


def subscription(id_: str, event_types: list[str], instance_ids: list[str] | None) -> Subscription:
    return Subscription(
        id=id_,
        name=id_,
        url="https://example.org/hook",
        event_types=event_types,
        enabled=True,
        secret="whsec_c2VjcmV0",
        created="2026-01-01T00:00:00Z",
        modified="2026-01-01T00:00:00Z",
        instance_ids=instance_ids,
    )


def router(*subscriptions: Subscription) -> Router:
    view: CompactedView[Subscription] = CompactedView("127.0.0.1:1", "subs", decode_subscription)
    for offset, sub in enumerate(subscriptions):
        view.apply(sub.id, sub, offset)
    return Router(view, deliveries="deliveries", invalid="invalid")


def test_each_matching_subscription_gets_one_task_keyed_by_its_id_and_the_subject() -> None:
    routed = router(
        subscription("all", ["*"], None),
        subscription("posts", ["post.*"], ["i1"]),
        subscription("other-instance", ["*"], ["i2"]),
        subscription("leads", ["lead.created"], None),
    ).outputs(EVENT, orjson.dumps(EVENT))
    assert [(topic, key) for topic, key, _ in routed] == [
        ("deliveries", b"all posts/1"),
        ("deliveries", b"posts posts/1"),
    ]
    tasks = [orjson.loads(value) for _, _, value in routed]
    assert [task["event"] for task in tasks] == [EVENT, EVENT]
    assert tasks[1]["webhook_id"] == webhook_id("posts", "/instances/i1", "e1")
    assert {task["attempt"] for task in tasks} == {1}


def test_no_subscription_no_task() -> None:
    assert router().outputs(EVENT, orjson.dumps(EVENT)) == []


def test_a_failure_while_routing_is_the_events_dead_letter() -> None:
    class Broken(Subscription):
        def matches(self, event_type: str, instance_id: str | None) -> bool:
            raise KeyError("boom")

    broken = Broken(**msgspec.structs.asdict(subscription("x", ["*"], None)))
    value = orjson.dumps(EVENT)
    [(topic, key, letter)] = router(broken).outputs(EVENT, value)
    dead = orjson.loads(letter)
    assert (topic, key, dead["stage"], dead["reason"]) == (
        "invalid",
        b"",
        "route",
        "internal_error",
    )
    assert dead["exception"]["type"] == "KeyError"


async def test_routing_waits_while_a_subscription_cannot_be_read() -> None:
    """Whether an event matches a subscription that cannot be read is unknown: routing without
    it would lose its tasks for good (issue 23). It resumes once the record is rewritten."""
    routing = router(subscription("all", ["*"], None))
    view = routing._subscriptions
    view.assume_read()
    await asyncio.wait_for(routing.ready(time.monotonic()), 1)
    view._consume(b"posts", b"{not json", 5)
    waiting = asyncio.create_task(routing.ready(time.monotonic()))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    view.apply("posts", subscription("posts", ["post.*"], None), 6)
    await asyncio.wait_for(waiting, 1)
    assert [key for _, key, _ in routing.outputs(EVENT, orjson.dumps(EVENT))] == [
        b"all posts/1",
        b"posts posts/1",
    ]
