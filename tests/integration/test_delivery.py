"""Subscriptions and delivery against real receivers on 127.0.0.1 (retry schedule 1 s, 2 s, 3 s)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from pipeline.delivery.tasks import encode, new_task
from tests.integration.conftest import Stack
from tests.integration.test_ingest import events_of, new_instance, path_of
from tests.support.kafka import read_topic, write
from tests.support.payloads import hex_hmac, hootsuite_element, oktopost_body
from tests.support.receiver import HANG, Receiver

pytestmark = pytest.mark.integration


async def subscribe(stack: Stack, url: str, **fields: Any) -> dict[str, Any]:
    body = {"name": f"sub-{uuid.uuid4().hex[:6]}", "url": url, **fields}
    status, created = await stack.admin("POST", "/v1/subscriptions", body)
    assert status == 201, created
    assert created["secret"].startswith("whsec_")
    return dict(created)


async def send_batch(stack: Stack, instance: dict[str, Any], *states: str) -> list[str]:
    """One Hootsuite batch with one message per state; returns the seq_nos."""
    seqs = [str(uuid.uuid4().int % 10**12) for _ in states]
    batch = [
        hootsuite_element(seq, state, f"m{seq}") for seq, state in zip(seqs, states, strict=True)
    ]
    status, _ = await stack.post(path_of(instance), orjson.dumps(batch))
    assert status == 202
    return seqs


async def attempts(stack: Stack, subscription: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = await stack.admin(
        "GET", f"/v1/subscriptions/{subscription['id']}/attempts?count=100"
    )
    assert status == 200
    return list(body["data"])


async def test_an_oktopost_webhook_arrives_signed_as_the_cloudevent(stack: Stack) -> None:
    receiver = await Receiver().start()
    try:
        instance = await new_instance(stack, "oktopost", signing_secret="k")
        subscription = await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        body = oktopost_body("postSent")
        assert (
            await stack.post(path_of(instance), body, {"X-Oktopost-Signature": hex_hmac("k", body)})
        )[0] == 202
        [delivery] = await receiver.wait_for(1)
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        Webhook(subscription["secret"]).verify(delivery.body, headers)  # raises if not valid
        assert headers["content-type"] == "application/cloudevents+json"
        assert headers["webhook-id"].startswith("msg_")
        [event] = await events_of(stack, instance, 1)
        assert orjson.loads(delivery.body) == event
    finally:
        await receiver.stop()


async def test_a_receiver_down_for_a_while_gets_it_on_the_schedule(stack: Stack) -> None:
    receiver = await Receiver(answer=lambda n: 500 if n < 2 else 200).start()
    try:
        instance = await new_instance(stack, "hootsuite")
        subscription = await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        await send_batch(stack, instance, "SENT")
        got = await receiver.wait_for(3)
        assert len({r.headers["webhook-id"] for r in got}) == 1  # stable across retries
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(got)]
        assert gaps[0] >= 0.9  # tier 1: 1 s
        assert gaps[1] >= 1.9  # tier 2: 2 s
        deadline = time.monotonic() + 20
        while len(logged := await attempts(stack, subscription)) < 3:
            assert time.monotonic() < deadline
        assert [a["response_code"] for a in logged] == [200, 500, 500]  # newest first
        assert [a["attempt"] for a in logged] == [3, 2, 1]
        assert all(a["payload"]["type"] == "post.sent" for a in logged)
    finally:
        await receiver.stop()


async def test_down_for_good_is_dead_lettered_then_redriven_once(stack: Stack) -> None:
    up = False
    receiver = await Receiver(answer=lambda n: 200 if up else 503).start()
    try:
        instance = await new_instance(stack, "hootsuite")
        subscription = await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        await send_batch(stack, instance, "SENT")
        await receiver.wait_for(4)  # the attempt and three retries
        deadline = time.monotonic() + 20
        while not any(
            a["outcome"] == "retry" and a["attempt"] == 4
            for a in await attempts(stack, subscription)
        ):
            assert time.monotonic() < deadline
        up = True
        status, body = {}, {}
        deadline = time.monotonic() + 20
        while True:  # the dead letter is written right after the last attempt's log record
            status, body = await stack.admin(
                "POST", f"/v1/subscriptions/{subscription['id']}/redrive"
            )
            if body.get("queued") or time.monotonic() > deadline:
                break
        assert (status, body["queued"]) == (202, 1)
        got = await receiver.wait_for(5)
        assert len({r.headers["webhook-id"] for r in got}) == 1
        status, again = await stack.admin("POST", f"/v1/subscriptions/{subscription['id']}/redrive")
        assert again["queued"] == 1  # still on the dead-letter topic …
        with pytest.raises(TimeoutError):
            await receiver.wait_for(6, timeout=4)  # … but delivered already: not sent again
    finally:
        await receiver.stop()


async def test_a_hanging_receiver_does_not_slow_a_healthy_one(stack: Stack) -> None:
    hung = await Receiver(answer=lambda n: HANG).start()
    healthy = await Receiver().start()
    try:
        instance = await new_instance(stack, "hootsuite")
        await subscribe(stack, hung.url, instance_ids=[instance["id"]])
        await subscribe(stack, healthy.url, instance_ids=[instance["id"]])
        sent_at = time.monotonic()
        for _ in range(5):
            await send_batch(stack, instance, "SENT", "SCHEDULED", "REJECTED", "PENDING_APPROVAL")
        got = await healthy.wait_for(20, timeout=30)
        latencies = sorted(r.at - sent_at for r in got)
        print(f"healthy receiver: 20 deliveries, last {latencies[-1]:.3f}s after the first send")
        assert latencies[-1] < 5.0  # the hung one ties up at most its own share of requests
        assert len(hung.received) >= 1
    finally:
        await hung.stop()
        await healthy.stop()


async def test_410_disables_the_subscription(stack: Stack) -> None:
    receiver = await Receiver(answer=lambda n: 410).start()
    try:
        instance = await new_instance(stack, "hootsuite")
        subscription = await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        await send_batch(stack, instance, "SENT")
        await receiver.wait_for(1)
        deadline = time.monotonic() + 20
        while (await stack.admin("GET", f"/v1/subscriptions/{subscription['id']}"))[1]["enabled"]:
            assert time.monotonic() < deadline, "never disabled"
        shown = (await stack.admin("GET", f"/v1/subscriptions/{subscription['id']}"))[1]
        assert "410" in shown["disabled_reason"]
        await send_batch(stack, instance, "SCHEDULED")
        with pytest.raises(TimeoutError):
            await receiver.wait_for(2, timeout=4)
    finally:
        await receiver.stop()


async def test_filters_instances_and_disabled_subscriptions_route_correctly(stack: Stack) -> None:
    receivers = [await Receiver().start() for _ in range(4)]
    posts_sent, any_post, other_instance, disabled = receivers
    try:
        instance = await new_instance(stack, "hootsuite")
        other = await new_instance(stack, "hootsuite")
        await subscribe(
            stack, posts_sent.url, event_types=["post.sent"], instance_ids=[instance["id"]]
        )
        await subscribe(stack, any_post.url, event_types=["post.*"], instance_ids=[instance["id"]])
        await subscribe(stack, other_instance.url, instance_ids=[other["id"]])
        await subscribe(stack, disabled.url, instance_ids=[instance["id"]], enabled=False)
        await send_batch(stack, instance, "SENT", "SCHEDULED")
        await any_post.wait_for(2)
        await posts_sent.wait_for(1)
        await send_batch(stack, other, "SENT")
        await other_instance.wait_for(1)
        with pytest.raises(TimeoutError):
            await posts_sent.wait_for(2, timeout=3)
        assert [orjson.loads(r.body)["type"] for r in posts_sent.received] == ["post.sent"]
        assert len(other_instance.received) == 1
        assert disabled.received == []
        status, listed = await stack.admin(
            "GET", "/v1/subscriptions?event_type=post.sent&count=100"
        )
        assert status == 200
        urls = {s["url"] for s in listed["data"]}
        assert {posts_sent.url, any_post.url, other_instance.url} <= urls
        assert all("secret" not in s for s in listed["data"])
    finally:
        for receiver in receivers:
            await receiver.stop()


async def test_replay_delivers_exactly_the_retained_matching_events_in_range(stack: Stack) -> None:
    receiver = await Receiver().start()
    try:
        instance = await new_instance(stack, "hootsuite")
        await send_batch(stack, instance, "SENT", "SCHEDULED")
        await events_of(stack, instance, 2)
        begin = datetime.now(UTC)
        await send_batch(stack, instance, "REJECTED", "SENT")
        await events_of(stack, instance, 4)
        end = datetime.now(UTC)
        await send_batch(stack, instance, "PENDING_APPROVAL")
        await events_of(stack, instance, 5)
        subscription = await subscribe(
            stack,
            receiver.url,
            event_types=["post.sent", "post.rejected"],
            instance_ids=[instance["id"]],
        )
        window = {"from": begin.isoformat(), "to": (end + timedelta(milliseconds=1)).isoformat()}
        status, body = await stack.admin(
            "POST", f"/v1/subscriptions/{subscription['id']}/replay", window
        )
        assert (status, body["queued"]) == (202, 2)
        got = await receiver.wait_for(2)
        with pytest.raises(TimeoutError):
            await receiver.wait_for(3, timeout=3)
        assert sorted(orjson.loads(r.body)["type"] for r in got) == ["post.rejected", "post.sent"]
    finally:
        await receiver.stop()


async def test_rotation_signs_with_both_secrets_and_test_pings(stack: Stack) -> None:
    receiver = await Receiver().start()
    try:
        subscription = await subscribe(stack, receiver.url, instance_ids=["nobody"])
        status, rotated = await stack.admin(
            "POST", f"/v1/subscriptions/{subscription['id']}/rotate-secret"
        )
        assert status == 200
        assert rotated["secret"] != subscription["secret"]
        status, body = await stack.admin("POST", f"/v1/subscriptions/{subscription['id']}/test")
        assert (status, body["queued"]) == (202, 1)
        [ping] = await receiver.wait_for(1)
        headers = {k.lower(): v for k, v in ping.headers.items()}
        assert len(headers["webhook-signature"].split()) == 2
        Webhook(subscription["secret"]).verify(ping.body, headers)
        Webhook(rotated["secret"]).verify(ping.body, headers)
        assert orjson.loads(ping.body)["type"] == "pipeline.test"
    finally:
        await receiver.stop()


async def test_an_instance_callback_url_is_a_subscription_to_all_its_events(stack: Stack) -> None:
    receiver = await Receiver().start()
    try:
        instance = await new_instance(stack, "hootsuite", callback_url=receiver.url)
        secret = instance["callback_secret"]
        await send_batch(stack, instance, "SENT")
        [delivery] = await receiver.wait_for(1)
        Webhook(secret).verify(delivery.body, {k.lower(): v for k, v in delivery.headers.items()})
        callback = f"/v1/subscriptions/cb-{instance['id']}"
        status, shown = await stack.admin("GET", callback)
        assert (status, shown["instance_ids"], shown["event_types"]) == (
            200,
            [instance["id"]],
            ["*"],
        )
        assert (await stack.admin("DELETE", f"/v1/instances/{instance['id']}"))[0] == 204
        assert (await stack.admin("GET", callback))[0] == 404
    finally:
        await receiver.stop()


async def test_an_unreadable_task_becomes_a_dead_letter_and_delivery_goes_on(stack: Stack) -> None:
    bootstrap = stack.settings.kafka_bootstrap
    await write(bootstrap, stack.topic("deliveries"), b"sub", b"\x00not json deliver")
    not_a_task = {"subscription_id": "sub", "attempt": "first"}
    await write(bootstrap, stack.topic("deliveries"), b"sub", orjson.dumps(not_a_task))
    invalid = await read_topic(
        bootstrap,
        stack.topic("events.invalid"),
        until=lambda values: len([v for v in values if v["stage"] == "deliver"]) == 2,
    )
    unreadable, invalid_task = [v for v in invalid if v["stage"] == "deliver"]
    assert unreadable["reason"] == "unreadable_record"
    assert base64.b64decode(unreadable["record"]["undecodable_base64"]) == b"\x00not json deliver"
    assert invalid_task["reason"] == "invalid_task"
    assert invalid_task["record"] == not_a_task
    assert invalid_task["message"].startswith("not a delivery task: ")
    receiver = await Receiver().start()  # the agents are still alive and delivering
    try:
        instance = await new_instance(stack, "hootsuite")
        await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        await send_batch(stack, instance, "SENT")
        await receiver.wait_for(1)
    finally:
        await receiver.stop()


async def test_a_subscription_applies_to_the_webhook_sent_right_after_its_201(stack: Stack) -> None:
    """The worker reads subscriptions from `config.subscriptions` as they are written: a webhook
    that follows the 201 at once must not be routed before the worker has read the subscription."""
    receiver = await Receiver().start()
    try:
        expected = set()
        for n in range(12):
            instance = await new_instance(stack, "oktopost", signing_secret="k")
            await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
            body = oktopost_body("postSent", {"postId": f"right-after-{n}"}, webhookId=f"w{n}")
            status, _ = await stack.post(
                path_of(instance), body, {"X-Oktopost-Signature": hex_hmac("k", body)}
            )
            assert status == 202
            expected.add(f"right-after-{n}")
        deadline = time.monotonic() + 30
        delivered: set[str] = set()
        while time.monotonic() < deadline and delivered != expected:
            delivered = {orjson.loads(r.body)["data"]["post_id"] for r in receiver.received}
            await asyncio.sleep(0.1)
        assert delivered == expected, f"never delivered: {sorted(expected - delivered)}"
    finally:
        await receiver.stop()


async def suppressed_so_far(stack: Stack) -> float:
    url = f"http://127.0.0.1:{stack.settings.worker_web_port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith("pipeline_deliveries_suppressed_total "):
            return float(line.split()[1])
    return 0.0


async def test_two_copies_of_a_task_read_together_reach_a_slow_subscriber_once(
    stack: Stack,
) -> None:
    """After a restart the same task is read twice (its uncommitted record, and the copy routed
    again); the second copy waits for the first attempt instead of running beside it."""
    receiver = await Receiver(delay=1.5).start()
    try:
        subscription = await subscribe(stack, receiver.url)
        event = {"id": uuid.uuid4().hex, "source": "/instances/copies", "type": "post.published"}
        task = encode(new_task(subscription["id"], event, reason="live"))
        before = await suppressed_so_far(stack)
        for _ in range(2):
            await write(stack.settings.kafka_bootstrap, stack.topic("deliveries"), b"k", task)
        await receiver.wait_for(1)
        for _ in range(200):  # up to 20 s for the second copy's decision
            if await suppressed_so_far(stack) > before:
                break
            await asyncio.sleep(0.1)
        assert await suppressed_so_far(stack) == before + 1
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()
