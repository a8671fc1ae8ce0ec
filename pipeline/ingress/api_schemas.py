"""The JSON Schemas of the admin and webhook API's bodies, for the OpenAPI document.

What the API shows of an instance or a subscription is closed (`additionalProperties: false`):
a unit test validates what the code shows against these, so a field added to one and not the
other fails. Request bodies stay open: unknown fields are named in a 422 by the code itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.contract.asyncapi import embed
from pipeline.http.openapi import ERROR_SCHEMA, Schema, ref

TEXT: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time"}
FLAG: Schema = {"type": "boolean"}
TEXTS: Schema = {"type": "array", "items": TEXT}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _closed(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. not_found"},
                "message": {"type": "string", "description": "for a person"},
                "provider_error": {"description": "code_refused: the provider's own answer"},
            },
        }
    },
}

POLLING: Schema = {
    "type": "object",
    "description": "Hootsuite message polling (pipeline poller).",
    "properties": {
        "enabled": FLAG,
        "interval_seconds": {"type": "number", "description": "default 60"},
        "api_base_url": TEXT,
        "states": {**TEXTS, "description": "Hootsuite listing states, one listing each"},
        "social_profile_ids": TEXTS,
        "lookback_seconds": {"type": "number", "description": "default 1 day"},
        "lookahead_seconds": {"type": "number", "description": "default 7 days"},
        "max_requests_per_second": {"type": "number", "description": "towards the provider"},
    },
}

HEALTH: Schema = {
    "type": "object",
    "required": ["status"],
    "description": "not_polled, pending, unknown, or the poller's last record",
    "properties": {"status": TEXT},
}

INSTANCE_FIELDS: dict[str, Schema] = {
    "id": TEXT,
    "provider": {
        "enum": ["oktopost", "hootsuite", "standard", "meta", "x", "linkedin", "tiktok", "youtube"]
    },
    "name": TEXT,
    "enabled": FLAG,
    "created": TIME,
    "modified": TIME,
    "callback_url": _nullable(TEXT),
    "include_raw": FLAG,
    "polling": POLLING,
    "max_requests_per_second": _nullable({"type": "number"}),
    "burst": _nullable({"type": "integer"}),
    "api_base_url": _nullable(TEXT),
    "tags": TEXTS,
    "callback_format": {"enum": ["cloudevents", "cloud-elements"]},
    "oktopost_events": _nullable(TEXTS),
    "reconcile_interval_seconds": _nullable({"type": "number"}),
    "channels": {**TEXTS, "description": "youtube: the channel ids subscribed at the WebSub hub"},
    "lease_seconds": _nullable({"type": "integer", "description": "youtube: the lease asked for"}),
}

INSTANCE: Schema = _closed(
    {
        **INSTANCE_FIELDS,
        "has_signing_secret": FLAG,
        "credentials": {**TEXTS, "description": "the names of the credentials set, never values"},
        "has_callback_signature_key": FLAG,
        "has_verify_token": {**FLAG, "description": "meta: whether a verify_token is set"},
        "oktopost_webhooks": {
            "type": "array",
            "items": _closed({"id": TEXT, "event": TEXT}),
            "description": "managed Oktopost instances: the webhooks registered, never a Secret",
        },
        "webhook_url": {**TEXT, "description": "where the provider sends this instance's webhooks"},
        "health": HEALTH,
        "signing_secret": {**TEXT, "description": "on create only, when generated"},
        "callback_secret": {**TEXT, "description": "once, when callback_url creates cb-<id>"},
    },
    required=[*INSTANCE_FIELDS, "has_signing_secret", "credentials", "webhook_url", "health"],
)

_SET_BY_US = ("created", "modified")
INSTANCE_INPUT: Schema = {
    "type": "object",
    "description": "The fields of an instance, or Cloud Elements' body (element, configuration, "
    "providerData). Secrets and credentials are write-only.",
    "properties": {
        **{name: schema for name, schema in INSTANCE_FIELDS.items() if name not in _SET_BY_US},
        "signing_secret": TEXT,
        "credentials": {"type": "object", "additionalProperties": _nullable(TEXT)},
        "callback_signature_key": TEXT,
        "verify_token": {**TEXT, "description": "meta: the token its verification GET must name"},
    },
}

SUBSCRIPTION_FIELDS: dict[str, Schema] = {
    "name": TEXT,
    "description": _nullable(TEXT),
    "url": {**TEXT, "description": "http or https; private addresses need the setting"},
    "event_types": {**TEXTS, "description": 'e.g. ["post.sent", "post.*", "*"]'},
    "instance_ids": _nullable(TEXTS),
    "enabled": FLAG,
    "format": {"enum": ["cloudevents", "cloud-elements"]},
    "ordering": {
        "enum": ["none", "subject"],
        "description": "subject: one subject's events delivered one at a time, in their order "
        "on events.normalized, across retries and restarts; none (the default): side by side",
    },
}

SUBSCRIPTION: Schema = _closed(
    {
        "id": TEXT,
        **SUBSCRIPTION_FIELDS,
        "created": TIME,
        "modified": TIME,
        "previous_secret_expires": _nullable(TIME),
        "disabled_reason": _nullable(TEXT),
        "has_signature_key": FLAG,
        "secret": {**TEXT, "description": "whsec_…: on create and rotate-secret only"},
    },
    required=["id", *SUBSCRIPTION_FIELDS, "created", "modified", "has_signature_key"],
)

SUBSCRIPTION_INPUT: Schema = {
    "type": "object",
    "properties": {"id": TEXT, **SUBSCRIPTION_FIELDS, "secret": TEXT, "signature_key": TEXT},
}


def _page_of(item: Schema, *extra: str) -> Schema:
    properties: dict[str, Schema] = {"data": {"type": "array", "items": item}}
    properties.update({name: {"type": "integer"} for name in extra})
    return {"type": "object", "required": ["data"], "properties": properties}


def schemas(topics_dir: Path) -> dict[str, Schema]:
    """`components.schemas`; the attempt record is the data contract's own schema."""
    found: dict[str, Any] = {}
    embed(topics_dir / "schemas" / "delivery-attempt.json", found)  # and what it refers to
    found |= {
        ERROR_SCHEMA: ERROR,
        "Instance": INSTANCE,
        "InstanceInput": INSTANCE_INPUT,
        "InstanceList": _page_of(ref("Instance")),
        "Subscription": SUBSCRIPTION,
        "SubscriptionInput": SUBSCRIPTION_INPUT,
        "SubscriptionList": _page_of(ref("Subscription"), "total"),
        "AttemptList": _page_of(ref("delivery-attempt"), "total", "page", "count"),
        "Queued": {
            "type": "object",
            "required": ["queued"],
            "properties": {"queued": {"type": "integer"}, "event_id": TEXT},
        },
        "ReplayWindow": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": TIME, "to": TIME},
        },
        "EventTypes": _page_of({"type": "object", "properties": {"type": TEXT, "schema": {}}}),
        "Accepted": {"type": "object", "properties": {"request_id": TEXT}},
        "Status": {"type": "object", "required": ["status"], "properties": {"status": TEXT}},
    }
    return found
