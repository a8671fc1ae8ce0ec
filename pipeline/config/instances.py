"""Instances: one provider account connected to the pipeline (Cloud Elements' element instance).

Stored whole (secrets included, so every ingress can verify signatures) on `config.instances`;
shown without secrets by the admin API. The webhook URL carries the base64url instance id.
A frozen msgspec Struct, decoded once where the topic is read (`pipeline.config.sealing`, which
also opens its sealed secrets); a record written before a field existed takes the field's default.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec

from pipeline.config.cloud_elements import translate
from pipeline.config.ingress_limit import limit_fields
from pipeline.config.platform_fields import platform_fields
from pipeline.config.requests import RequestError, boolean, optional_text, text, url
from pipeline.contract.codec import Codec
from pipeline.events.cloudevent import rfc3339
from pipeline.providers.oktopost import EVENT_MAP
from pipeline.providers.registry import PROVIDERS

POLLING_KEYS = frozenset(
    {
        "enabled",
        "interval_seconds",
        "api_base_url",
        "states",
        "social_profile_ids",
        "lookback_seconds",
        "lookahead_seconds",
        "max_requests_per_second",
    }
)
CALLBACK_FORMATS = ("cloudevents", "cloud-elements")
DEFAULT_RECONCILE_SECONDS = 300.0
MIN_RECONCILE_SECONDS = 5.0


def instance_key(instance_id: str) -> str:
    """The path segment of the webhook URL: base64url of the id, unpadded."""
    return base64.urlsafe_b64encode(instance_id.encode()).decode().rstrip("=")


def instance_id_from_key(key: str) -> str | None:
    """The instance id in a webhook URL, or None when the segment is not one we issued."""
    try:
        decoded = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded and instance_key(decoded) == key else None


class OktopostWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook the Oktopost webhook manager registered: its event type and its Secret."""

    event: str
    secret: str


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    """One value of `config.instances` (schema `topics/schemas/instance.json`)."""

    id: str
    provider: str
    name: str
    enabled: bool
    created: str
    modified: str
    signing_secret: str | None = None
    callback_url: str | None = None
    include_raw: bool = True
    polling: dict[str, Any] = msgspec.field(default_factory=dict)  # keys: POLLING_KEYS
    credentials: dict[str, str | None] = msgspec.field(default_factory=dict)
    max_requests_per_second: float | None = None  # webhooks in, per ingress process
    burst: int | None = None
    api_base_url: str | None = None  # the provider's API (None: the real one)
    tags: list[str] = msgspec.field(default_factory=list)
    callback_format: str = "cloudevents"  # of the `cb-<id>` subscription
    callback_signature_key: str | None = None  # Cloud Elements' event.notification.signature.key
    oktopost_events: list[str] | None = None  # managed webhooks' events (None: all)
    reconcile_interval_seconds: float | None = None  # None: DEFAULT_RECONCILE_SECONDS
    # Written by the Oktopost webhook manager only, by Oktopost's webhook id.
    oktopost_webhooks: dict[str, OktopostWebhook] = msgspec.field(default_factory=dict)
    verify_token: str | None = None  # Meta's verification GET presents it
    channels: list[str] = msgspec.field(default_factory=list)  # YouTube channels subscribed
    lease_seconds: int | None = None  # the WebSub lease asked for (None: the default)

    def public(self, public_url: str) -> dict[str, Any]:
        """What the admin API shows: no secret or credential value, ever."""
        shown = msgspec.structs.asdict(self)
        del shown["signing_secret"]
        shown["has_signing_secret"] = bool(self.signing_secret)
        shown["credentials"] = sorted(key for key, value in self.credentials.items() if value)
        del shown["callback_signature_key"]
        shown["has_callback_signature_key"] = bool(self.callback_signature_key)
        del shown["verify_token"]
        shown["has_verify_token"] = bool(self.verify_token)
        shown["oktopost_webhooks"] = sorted(
            ({"id": key, "event": value.event} for key, value in self.oktopost_webhooks.items()),
            key=lambda webhook: webhook["event"],
        )
        shown["webhook_url"] = (
            f"{public_url.rstrip('/')}/v1/webhooks/{self.provider}/{instance_key(self.id)}"
        )
        return shown


INSTANCES = Codec(Instance)  # `config.instances` values
decode_instance = INSTANCES.decode
encode_instance = INSTANCES.encode


def _now() -> str:
    return rfc3339(datetime.now(UTC))


def create_instance(body: dict[str, Any]) -> tuple[Instance, str | None]:
    """A new instance from a POST body, and the signing secret if this call generated it.

    Cloud Elements' body is translated first (`cloud_elements.translate`); its authorization
    code, if any, is the caller's to exchange.
    """
    body = _with_cloud_elements_aliases(body)
    provider = text(body, "provider")
    if provider not in PROVIDERS:
        raise RequestError("provider", f"must be one of {', '.join(sorted(PROVIDERS))}")
    instance_id = optional_text(body, "id") or "inst_" + secrets.token_urlsafe(12).replace("-", "x")
    if not instance_id.replace("_", "").replace("-", "").isalnum() or len(instance_id) > 64:
        raise RequestError("id", "use 1 to 64 letters, digits, '_' or '-'")
    given_secret = optional_text(body, "signing_secret")
    generated = None if given_secret else PROVIDERS[provider].new_secret()
    now = _now()
    instance = Instance(
        id=instance_id,
        provider=provider,
        name=optional_text(body, "name") or instance_id,
        enabled=boolean(body, "enabled", default=True),
        created=now,
        modified=now,
        signing_secret=given_secret or generated,
        callback_url=url(body, "callback_url"),
        include_raw=boolean(body, "include_raw", default=True),
        polling=_polling(body.get("polling")),
        credentials=_credentials(body.get("credentials")),
        **limit_fields(body),
        **_connection_fields(body),
        **platform_fields(body, provider),
    )
    return instance, generated


def patch_instance(instance: Instance, body: dict[str, Any]) -> Instance:
    """Apply a PATCH body; the id and provider are fixed for an instance's life."""
    body = _with_cloud_elements_aliases(body)
    for fixed in ("id", "provider"):
        if fixed in body and body[fixed] != getattr(instance, fixed):
            raise RequestError(fixed, "cannot be changed; create a new instance")
    changes: dict[str, Any] = {"modified": _now(), **limit_fields(body)}
    if "name" in body:
        changes["name"] = text(body, "name")
    if "enabled" in body:
        changes["enabled"] = boolean(body, "enabled", default=instance.enabled)
    if "include_raw" in body:
        changes["include_raw"] = boolean(body, "include_raw", default=instance.include_raw)
    if "signing_secret" in body:
        changes["signing_secret"] = optional_text(body, "signing_secret")
    if "callback_url" in body:
        changes["callback_url"] = url(body, "callback_url")
    if "polling" in body:
        changes["polling"] = {**instance.polling, **_polling(body["polling"])}
    if "credentials" in body:
        changes["credentials"] = {**instance.credentials, **_credentials(body["credentials"])}
    changes.update(_connection_fields(body, only_given=True))
    changes.update(platform_fields(body, instance.provider, only_given=True))
    return msgspec.structs.replace(instance, **changes)


def _connection_fields(body: dict[str, Any], *, only_given: bool = False) -> dict[str, Any]:
    """Where the provider is, how callbacks look, and what a managed Oktopost instance wants."""
    fields: dict[str, Any] = {}
    if "api_base_url" in body or not only_given:
        fields["api_base_url"] = url(body, "api_base_url")
    if "tags" in body or not only_given:
        fields["tags"] = _tags(body.get("tags"))
    if "callback_format" in body or not only_given:
        value = body.get("callback_format") or CALLBACK_FORMATS[0]
        if value not in CALLBACK_FORMATS:
            raise RequestError("callback_format", f"must be one of {', '.join(CALLBACK_FORMATS)}")
        fields["callback_format"] = value
    if "callback_signature_key" in body or not only_given:
        fields["callback_signature_key"] = optional_text(body, "callback_signature_key")
    if "oktopost_events" in body or not only_given:
        fields["oktopost_events"] = _oktopost_events(body.get("oktopost_events"))
    if "reconcile_interval_seconds" in body or not only_given:
        fields["reconcile_interval_seconds"] = _reconcile_interval(body)
    return fields


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag for tag in value):
        raise RequestError("tags", "must be a list of non-empty strings")
    return list(dict.fromkeys(value))


def _oktopost_events(value: Any) -> list[str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(e, str) and e in EVENT_MAP for e in value)
    ):
        raise RequestError("oktopost_events", "must be a non-empty list of Oktopost event types")
    return list(dict.fromkeys(value))


def _reconcile_interval(body: dict[str, Any]) -> float | None:
    value = body.get("reconcile_interval_seconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError("reconcile_interval_seconds", "must be a number")
    if not math.isfinite(value) or value < MIN_RECONCILE_SECONDS:
        raise RequestError(
            "reconcile_interval_seconds", f"must be {MIN_RECONCILE_SECONDS:g} or more"
        )
    return float(value)


def _polling(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError("polling", "must be an object")
    unknown = set(value) - POLLING_KEYS
    if unknown:
        raise RequestError("polling", f"unknown keys: {', '.join(sorted(unknown))}")
    if "enabled" in value and not isinstance(value["enabled"], bool):
        raise RequestError("polling.enabled", "must be true or false")
    interval = value.get("interval_seconds")
    if interval is not None and (not isinstance(interval, int | float) or interval <= 0):
        raise RequestError("polling.interval_seconds", "must be a positive number")
    if value.get("api_base_url") is not None:
        url(value, "api_base_url", field_name="polling.api_base_url")
    return dict(value)


def _credentials(value: Any) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(item, str | None) for item in value.values()
    ):
        raise RequestError("credentials", "must be an object of strings")
    return dict(value)


def _with_cloud_elements_aliases(body: Any) -> dict[str, Any]:
    """Map Cloud Elements' keys onto this API's fields (explicit fields win); a code is refused
    here: only `create` in the admin API, which exchanges it, may accept one."""
    if not isinstance(body, dict):
        raise RequestError("body", "must be a JSON object")
    translated, code = translate(body)
    if code is not None:
        raise RequestError("providerData.code", "is exchanged by POST /v1/instances only")
    return translated
