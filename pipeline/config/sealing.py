"""Admin API, deliver agent ↔ `config.instances`, `config.subscriptions`: sealed secret fields.

Every secret field is sealed by the key ring on the way to Kafka and opened on the way back: an
instance's `signing_secret`, `callback_signature_key`, each `credentials` value and each managed
Oktopost webhook's `secret`, a subscription's `secret`, `previous_secret` and
`signature_key`. Other fields stay plain, so the topics remain readable as the data contract.
Records written before sealing open as they are and are sealed when next written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import orjson

from pipeline.config.instances import Instance
from pipeline.config.keyring import KeyRing
from pipeline.config.subscriptions import Subscription
from pipeline.contract.topics import Topic

Transform = Callable[[str, str], str]  # (value, context) → value
SUBSCRIPTION_SECRETS = ("secret", "previous_secret", "signature_key")
INSTANCE_SECRETS = ("signing_secret", "callback_signature_key")


def _instance_fields(record: dict[str, Any], change: Transform) -> dict[str, Any]:
    where = f"{Topic.CONFIG_INSTANCES}/{record['id']}"
    for name in INSTANCE_SECRETS:
        if record.get(name) is not None:
            record[name] = change(record[name], f"{where}/{name}")
    record["credentials"] = {
        name: None if value is None else change(value, f"{where}/credentials/{name}")
        for name, value in (record.get("credentials") or {}).items()
    }
    webhooks = record.get("oktopost_webhooks") or {}
    record["oktopost_webhooks"] = {
        webhook: {
            **fields,
            "secret": change(fields["secret"], f"{where}/oktopost_webhooks/{webhook}"),
        }
        if fields.get("secret") is not None
        else fields
        for webhook, fields in webhooks.items()
    }
    return record


def _subscription_fields(record: dict[str, Any], change: Transform) -> dict[str, Any]:
    where = f"{Topic.CONFIG_SUBSCRIPTIONS}/{record['id']}"
    for name in SUBSCRIPTION_SECRETS:
        if record.get(name) is not None:
            record[name] = change(record[name], f"{where}/{name}")
    return record


def seal_instance(ring: KeyRing, instance: Instance) -> bytes:
    return orjson.dumps(_instance_fields(asdict(instance), ring.seal))


def open_instance(ring: KeyRing, raw: bytes) -> Instance:
    return Instance(**_instance_fields(orjson.loads(raw), ring.open))


def seal_subscription(ring: KeyRing, subscription: Subscription) -> bytes:
    return orjson.dumps(_subscription_fields(asdict(subscription), ring.seal))


def open_subscription(ring: KeyRing, raw: bytes) -> Subscription:
    return Subscription(**_subscription_fields(orjson.loads(raw), ring.open))


def needs_resealing(ring: KeyRing, topic: str, raw: bytes) -> bool:
    """Does this `config.*` record hold a secret that is plain or sealed under an older key?"""
    found: list[str] = []

    def note(value: str, context: str) -> str:
        found.append(value)
        return value

    record = orjson.loads(raw)
    if topic.endswith(Topic.CONFIG_INSTANCES):
        _instance_fields(record, note)
    else:
        _subscription_fields(record, note)
    return any(ring.needs_resealing(value) for value in found)


class ConfigCodec:
    """The sealing encoders and openers of one key ring, for views and writers."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def instance_to_json(self, instance: Instance) -> bytes:
        return seal_instance(self.ring, instance)

    def instance_from_json(self, raw: bytes) -> Instance:
        return open_instance(self.ring, raw)

    def subscription_to_json(self, subscription: Subscription) -> bytes:
        return seal_subscription(self.ring, subscription)

    def subscription_from_json(self, raw: bytes) -> Subscription:
        return open_subscription(self.ring, raw)
