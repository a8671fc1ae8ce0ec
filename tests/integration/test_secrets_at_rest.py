"""Secrets at rest: no record on any topic of a running pipeline holds a secret in plain text.

The stack's processes share the tests' key ring; deliveries still verify (the worker opens what
the ingress sealed). The rotation test
runs `pipeline secrets rotate` against topics of its own holding plain and old-key records.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pipeline.config.instances import create_instance, encode_instance
from pipeline.config.keyring import new_key_entry, parse_key_ring
from pipeline.config.sealing import open_instance, open_subscription, seal_instance
from pipeline.config.subscriptions import create_subscription, encode_subscription
from pipeline.health import partitions_of
from pipeline.settings import REPO_ROOT
from tests.integration.conftest import Stack, stack_settings
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support.kafka import write
from tests.support.payloads import hex_hmac, oktopost_body
from tests.support.processes import pipeline_env
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


async def raw_records(bootstrap: str, names: tuple[str, ...]) -> dict[str, list[bytes]]:
    """Every record (key, value and headers, as bytes) of every topic whose name starts so."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, list[bytes]] = {}
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(names))
        partitions = [
            TopicPartition(t, p) for t in topics for p in await partitions_of(bootstrap, t)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = {t: [] for t in topics}
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for r in records:
                    parts = [r.key or b"", r.value or b""]
                    parts += [value for _, value in r.headers or ()]
                    found[tp.topic].append(b"\0".join(parts))
    finally:
        await consumer.stop()
    return found


def _forms(secret: str) -> list[bytes]:
    """A secret as it could leak: itself, and a whsec_ secret's key in base64 or raw bytes."""
    forms = [secret.encode()]
    if secret.startswith("whsec_"):
        forms += [secret[6:].encode(), base64.b64decode(secret[6:])]
    return forms


async def test_no_topic_holds_a_secret_and_deliveries_still_verify(stack: Stack) -> None:
    receiver = await Receiver().start()
    try:
        signing = f"okto-signing-{uuid.uuid4().hex}"
        credentials = {"client_secret": f"cs-{uuid.uuid4().hex}", "refresh_token": uuid.uuid4().hex}
        instance = await new_instance(
            stack,
            "oktopost",
            signing_secret=signing,
            credentials=credentials,
            callback_url=receiver.url,
        )
        subscription = await subscribe(stack, receiver.url, instance_ids=[instance["id"]])
        status, rotated = await stack.admin(
            "POST", f"/v1/subscriptions/{subscription['id']}/rotate-secret"
        )
        assert status == 200, rotated
        secrets = [
            signing,
            *credentials.values(),
            instance["callback_secret"],
            subscription["secret"],
            rotated["secret"],
        ]

        body = oktopost_body("postSent")
        headers = {"X-Oktopost-Signature": hex_hmac(signing, body)}
        assert (await stack.post(path_of(instance), body, headers))[0] == 202
        got = await receiver.wait_for(2)  # the callback subscription and the rotated one
        verified = 0
        for delivery in got:
            lowered = {k.lower(): v for k, v in delivery.headers.items()}
            for secret in (instance["callback_secret"], rotated["secret"]):
                try:
                    Webhook(secret).verify(delivery.body, lowered)
                    verified += 1
                except WebhookVerificationError:  # signed for the other subscription
                    continue
        assert verified == 2

        settings = stack.settings
        topics = await raw_records(
            settings.kafka_bootstrap, (settings.topic_prefix, settings.app_id)
        )
        assert stack.topic("config.instances") in topics
        assert any(topics[stack.topic("deliveries.attempts")])
        for topic, records in topics.items():
            for record in records:
                for secret in secrets:
                    for form in _forms(secret):
                        assert form not in record, f"a secret in plain text on {topic}"
        [config] = [
            orjson.loads(r.split(b"\0")[1])
            for r in topics[stack.topic("config.instances")]
            if r.startswith(instance["id"].encode() + b"\0")
        ]
        assert config["signing_secret"].startswith("enc:v1:test:")
    finally:
        await receiver.stop()


def _rotate(env: dict[str, str], cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "secrets", "rotate"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


async def test_rotate_reseals_plain_and_old_key_records_under_the_first_key(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = await asyncio.to_thread(stack_settings, kafka_bootstrap, tmp_path)
    old_entry, new_entry = new_key_entry("k1"), new_key_entry("k2")
    old = parse_key_ring(old_entry)
    legacy, _ = create_instance(
        {"provider": "oktopost", "id": "legacy", "signing_secret": "plain-1"}
    )
    sealed, _ = create_instance({"provider": "oktopost", "id": "sealed", "signing_secret": "old-2"})
    subscription = create_subscription({"name": "s", "url": "https://example.com/h"})
    instances, subscriptions = (
        settings.topic("config.instances"),
        settings.topic("config.subscriptions"),
    )
    await write(kafka_bootstrap, instances, b"legacy", encode_instance(legacy))
    await write(kafka_bootstrap, instances, b"sealed", seal_instance(old, sealed))
    await write(
        kafka_bootstrap, subscriptions, subscription.id.encode(), encode_subscription(subscription)
    )

    env = pipeline_env(settings, PIPELINE_SECRET_KEYS=f"{new_entry},{old_entry}")
    assert _rotate(env, REPO_ROOT) == [
        "config.instances: 2 of 2 records re-sealed under 'k2'",
        "config.subscriptions: 1 of 1 records re-sealed under 'k2'",
    ]
    assert _rotate(env, REPO_ROOT) == [  # twice is a no-op
        "config.instances: 0 of 2 records re-sealed under 'k2'",
        "config.subscriptions: 0 of 1 records re-sealed under 'k2'",
    ]
    newest_only = parse_key_ring(new_entry)  # the old key can go now
    latest: dict[str, Any] = {}
    for topic, records in (await raw_records(kafka_bootstrap, (settings.topic_prefix,))).items():
        for record in records:
            key, value = record.split(b"\0")[:2]
            latest[f"{topic}/{key.decode()}"] = value
    assert open_instance(newest_only, latest[f"{instances}/legacy"]) == legacy
    assert open_instance(newest_only, latest[f"{instances}/sealed"]) == sealed
    assert (
        open_subscription(newest_only, latest[f"{subscriptions}/{subscription.id}"]) == subscription
    )
    assert b"plain-1" not in latest[f"{instances}/legacy"]
