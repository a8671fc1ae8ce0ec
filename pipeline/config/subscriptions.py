"""Subscriptions: a subscriber's callback URL, its filters and its signing secrets.

Stored whole on `config.subscriptions`; the `secret` is shown once, on create and on rotate.
During a rotation's grace period both the new and the previous secret sign each delivery.
A frozen msgspec Struct, decoded once where the topic is read (`pipeline.config.sealing`, which
also opens its sealed secrets); a record written before a field existed takes the field's default.
"""

from __future__ import annotations

import re
import secrets as random
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from pipeline.config.requests import RequestError, boolean, optional_text, text
from pipeline.contract.codec import Codec
from pipeline.events.cloudevent import parse_time, rfc3339
from pipeline.events.types import EVENT_TYPES
from pipeline.http.standard_webhooks import SecretFormatError, generate_secret, secret_key
from pipeline.http.urls import URLSyntaxError, callback_host

ROTATION_GRACE = timedelta(hours=24)
MIN_SECRET_BYTES = 24
_PATTERN = re.compile(r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$")
ORDERS = ("name", "created", "modified")
PAGE_SIZES = (20, 25, 50, 100)
FORMATS = ("cloudevents", "cloud-elements")
# "subject": the events of one subject are delivered one after the other, in their order on
# `events.normalized` (`pipeline.delivery.lanes`); "none": side by side, as fast as they go.
ORDERINGS = ("none", "subject")


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """One value of `config.subscriptions` (schema `topics/schemas/subscription.json`)."""

    id: str
    name: str
    url: str
    event_types: list[str]
    enabled: bool
    secret: str
    created: str
    modified: str
    description: str | None = None
    instance_ids: list[str] | None = None
    previous_secret: str | None = None
    previous_secret_expires: str | None = None
    disabled_reason: str | None = None
    format: str = "cloudevents"  # the body delivered: see `pipeline.delivery.formats`
    # Signs `Elements-Webhook-Signature` in the cloud-elements format (None: the `secret`).
    signature_key: str | None = None
    ordering: str = "none"  # one of ORDERINGS

    @property
    def ordered(self) -> bool:
        return self.ordering == "subject"

    def public(self) -> dict[str, Any]:
        """What the admin API shows after creation: never a secret."""
        shown = msgspec.structs.asdict(self)
        for secret in ("secret", "previous_secret", "signature_key"):
            del shown[secret]
        shown["has_signature_key"] = bool(self.signature_key)
        return shown

    def matches(self, event_type: str, instance_id: str | None) -> bool:
        """Would an event of this type from this instance be delivered here?"""
        if not self.enabled:
            return False
        if self.instance_ids is not None and instance_id not in self.instance_ids:
            return False
        return type_matches(self.event_types, event_type)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while its grace period lasts."""
        expires = parse_time(self.previous_secret_expires)
        if self.previous_secret and expires and expires > now:
            return [self.secret, self.previous_secret]
        return [self.secret]


SUBSCRIPTIONS = Codec(Subscription)  # `config.subscriptions` values
decode_subscription = SUBSCRIPTIONS.decode
encode_subscription = SUBSCRIPTIONS.encode


def type_matches(patterns: list[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def _now() -> datetime:
    return datetime.now(UTC)


def create_subscription(body: dict[str, Any]) -> Subscription:
    now = rfc3339(_now())
    subscription_id = optional_text(body, "id") or "sub_" + random.token_hex(8)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", subscription_id):
        raise RequestError("id", "use 1 to 64 letters, digits, '_' or '-'")
    return Subscription(
        id=subscription_id,
        name=text(body, "name"),
        description=optional_text(body, "description"),
        url=_url(body),
        event_types=_event_types(body.get("event_types", ["*"])),
        instance_ids=_instance_ids(body.get("instance_ids")),
        enabled=boolean(body, "enabled", default=True),
        secret=_secret(body),
        created=now,
        modified=now,
        format=_format(body),
        signature_key=optional_text(body, "signature_key"),
        ordering=_ordering(body),
    )


def patch_subscription(subscription: Subscription, body: dict[str, Any]) -> Subscription:
    if "id" in body and body["id"] != subscription.id:
        raise RequestError("id", "cannot be changed")
    changes: dict[str, Any] = {"modified": rfc3339(_now())}
    if "name" in body:
        changes["name"] = text(body, "name")
    if "description" in body:
        changes["description"] = optional_text(body, "description")
    if "url" in body:
        changes["url"] = _url(body)
    if "event_types" in body:
        changes["event_types"] = _event_types(body["event_types"])
    if "instance_ids" in body:
        changes["instance_ids"] = _instance_ids(body["instance_ids"])
    if "enabled" in body:
        changes["enabled"] = boolean(body, "enabled", default=subscription.enabled)
        if changes["enabled"]:
            changes["disabled_reason"] = None
    if "format" in body:
        changes["format"] = _format(body)
    if "signature_key" in body:
        changes["signature_key"] = optional_text(body, "signature_key")
    if "ordering" in body:
        changes["ordering"] = _ordering(body)
    return msgspec.structs.replace(subscription, **changes)


def _format(body: dict[str, Any]) -> str:
    value = body.get("format") or FORMATS[0]
    if value not in FORMATS:
        raise RequestError("format", f"must be one of {', '.join(FORMATS)}")
    return str(value)


def _ordering(body: dict[str, Any]) -> str:
    value = body.get("ordering") or ORDERINGS[0]
    if value not in ORDERINGS:
        raise RequestError("ordering", f"must be one of {', '.join(ORDERINGS)}")
    return str(value)


def rotate_secret(subscription: Subscription) -> Subscription:
    """A new secret; the old one keeps signing for `ROTATION_GRACE` so receivers can switch."""
    now = _now()
    return msgspec.structs.replace(
        subscription,
        secret=generate_secret(),
        previous_secret=subscription.secret,
        previous_secret_expires=rfc3339(now + ROTATION_GRACE),
        modified=rfc3339(now),
    )


def disable_gone(subscription: Subscription, status: int) -> Subscription:
    reason = f"the endpoint answered {status} Gone"
    return msgspec.structs.replace(
        subscription, enabled=False, disabled_reason=reason, modified=rfc3339(_now())
    )


def _secret(body: dict[str, Any]) -> str:
    """A secret the integrator brings (as Svix allows), else a new one."""
    given = optional_text(body, "secret")
    if given is None:
        return generate_secret()
    try:
        key = secret_key(given)
    except SecretFormatError:
        key = b""
    if len(key) < MIN_SECRET_BYTES:
        raise RequestError("secret", f"must be whsec_ + base64 of {MIN_SECRET_BYTES}+ bytes")
    return given


def _url(body: dict[str, Any]) -> str:
    value = text(body, "url")
    try:
        callback_host(value)
    except URLSyntaxError as exc:
        raise RequestError("url", str(exc)) from exc
    return value


def _event_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RequestError("event_types", 'must be a non-empty list, e.g. ["post.sent", "post.*"]')
    for pattern in value:
        if not _PATTERN.match(pattern):
            raise RequestError("event_types", f"{pattern!r} is not a type, a prefix.* or *")
        if "*" not in pattern and pattern not in EVENT_TYPES:
            raise RequestError("event_types", f"{pattern!r} is not a normalized type")
    return list(dict.fromkeys(value))


def _instance_ids(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RequestError("instance_ids", "must be null or a list of instance ids")
    return list(dict.fromkeys(value))


def list_page(
    subscriptions: list[Subscription], query: dict[str, str]
) -> tuple[list[Subscription], int]:
    """Oktopost-style listing: filters `event_type` and `name`, `order`, `page`, `count`."""
    found = subscriptions
    if event_type := query.get("event_type"):
        found = [s for s in found if type_matches(s.event_types, event_type)]
    if name := query.get("name"):
        found = [s for s in found if name.lower() in s.name.lower()]
    order = query.get("order", "created")
    key = order.removeprefix("-")
    if key not in ORDERS:
        raise RequestError("order", f"must be one of {', '.join(ORDERS)} (prefix - to reverse)")
    found = sorted(found, key=lambda s: (getattr(s, key), s.id), reverse=order.startswith("-"))
    count = _number(query, "count", 20)
    if count not in PAGE_SIZES:
        raise RequestError("count", f"must be one of {', '.join(map(str, PAGE_SIZES))}")
    page = _number(query, "page", 1)
    if page < 1:
        raise RequestError("page", "must be 1 or more")
    return found[(page - 1) * count : page * count], len(found)


def _number(query: dict[str, str], key: str, default: int) -> int:
    try:
        return int(query.get(key, default))
    except ValueError as exc:
        raise RequestError(key, "must be a whole number") from exc
