"""Admin API, deliver agent ↔ `config.instances`, `config.subscriptions`: sealed secret fields.

Every secret field is sealed by the key ring on the way to Kafka and opened on the way back: an
instance's `signing_secret`, `callback_signature_key`, `verify_token` (Meta), each `credentials`
value and each managed Oktopost webhook's `secret`, a subscription's `secret`, `previous_secret`
and `signature_key`. Other fields stay plain, so the topics remain readable as the data contract.
Records written before sealing open as they are and are sealed when next written.

A record is decoded once into its typed value (`decode_instance`, `decode_subscription`) and its
secrets are then opened field by field; a record that is not one raises `UnreadableConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

from pipeline.config.instances import Instance, decode_instance, encode_instance
from pipeline.config.keyring import KeyRing
from pipeline.config.subscriptions import Subscription, decode_subscription, encode_subscription
from pipeline.contract.topics import Topic
from pipeline.errors import PipelineError

Transform = Callable[[str, str], str]  # (value, context) → value
T = TypeVar("T", Instance, Subscription)


class UnreadableConfigError(PipelineError, ValueError):
    """A `config.*` record is not JSON or not the shape its schema gives; views skip it."""

    code = "unreadable_config"


def _change(value: str | None, change: Transform, context: str) -> str | None:
    return None if value is None else change(value, context)


def _instance_fields(instance: Instance, change: Transform) -> Instance:
    where = f"{Topic.CONFIG_INSTANCES}/{instance.id}"
    return msgspec.structs.replace(
        instance,
        signing_secret=_change(instance.signing_secret, change, f"{where}/signing_secret"),
        callback_signature_key=_change(
            instance.callback_signature_key, change, f"{where}/callback_signature_key"
        ),
        verify_token=_change(instance.verify_token, change, f"{where}/verify_token"),
        credentials={
            name: _change(value, change, f"{where}/credentials/{name}")
            for name, value in instance.credentials.items()
        },
        oktopost_webhooks={
            webhook: msgspec.structs.replace(
                registered,
                secret=change(registered.secret, f"{where}/oktopost_webhooks/{webhook}"),
            )
            for webhook, registered in instance.oktopost_webhooks.items()
        },
    )


def _subscription_fields(subscription: Subscription, change: Transform) -> Subscription:
    where = f"{Topic.CONFIG_SUBSCRIPTIONS}/{subscription.id}"
    return msgspec.structs.replace(
        subscription,
        secret=change(subscription.secret, f"{where}/secret"),
        previous_secret=_change(subscription.previous_secret, change, f"{where}/previous_secret"),
        signature_key=_change(subscription.signature_key, change, f"{where}/signature_key"),
    )


def _decoded(decode: Callable[[bytes], T], topic: str, raw: bytes) -> T:
    try:
        return decode(raw)
    except msgspec.DecodeError as exc:  # ValidationError too: JSON, but not the record's shape
        raise UnreadableConfigError(f"{topic} record: {exc}") from exc


def seal_instance(ring: KeyRing, instance: Instance) -> bytes:
    return encode_instance(_instance_fields(instance, ring.seal))


def open_instance(ring: KeyRing, raw: bytes) -> Instance:
    """Raises `UnreadableConfigError` (not an instance) or `SealedValueError` (a secret)."""
    return _instance_fields(_decoded(decode_instance, Topic.CONFIG_INSTANCES, raw), ring.open)


def seal_subscription(ring: KeyRing, subscription: Subscription) -> bytes:
    return encode_subscription(_subscription_fields(subscription, ring.seal))


def open_subscription(ring: KeyRing, raw: bytes) -> Subscription:
    """Raises `UnreadableConfigError` (not a subscription) or `SealedValueError` (a secret)."""
    decoded = _decoded(decode_subscription, Topic.CONFIG_SUBSCRIPTIONS, raw)
    return _subscription_fields(decoded, ring.open)


def needs_resealing(ring: KeyRing, topic: str, raw: bytes) -> bool:
    """Does this `config.*` record hold a secret that is plain or sealed under an older key?"""
    found: list[str] = []

    def note(value: str, context: str) -> str:
        found.append(value)
        return value

    if topic.endswith(Topic.CONFIG_INSTANCES):
        _instance_fields(_decoded(decode_instance, topic, raw), note)
    else:
        _subscription_fields(_decoded(decode_subscription, topic, raw), note)
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
