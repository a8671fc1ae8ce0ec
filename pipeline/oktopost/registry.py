"""Which instances manage their Oktopost webhooks, and the per-webhook Secret the ingress checks.

Shared by the ingress (`POST /v1/webhooks/oktopost/…` → verify with the Secret of the webhook the
request names) and the webhook manager (which registers the webhooks and keeps the Secrets on the
instance, in `oktopost_webhooks`).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from pipeline.config.instances import DEFAULT_RECONCILE_SECONDS, Instance
from pipeline.providers.oktopost import EVENT_MAP

ALL_EVENTS = tuple(EVENT_MAP)
# Envelope option: the CloudEvent id is built from the content, not the delivery
# (docs/reference/providers.md, "Oktopost, managed").
CONTENT_IDENTITY = "content"
WEBHOOK_HEADER = "x-oktopost-webhook"


def is_managed(instance: Instance) -> bool:
    """An Oktopost instance given `credentials: {account_id, api_key}` manages its webhooks."""
    credentials = instance.credentials
    return (
        instance.provider == "oktopost"
        and bool(credentials.get("account_id"))
        and bool(credentials.get("api_key"))
    )


def wanted_events(instance: Instance) -> tuple[str, ...]:
    return tuple(instance.oktopost_events or ALL_EVENTS)


def reconcile_interval(instance: Instance) -> float:
    return instance.reconcile_interval_seconds or DEFAULT_RECONCILE_SECONDS


def webhook_secret(instance: Instance, headers: Mapping[str, str], body: bytes) -> str | None:
    """The Secret of the managed webhook this request names by its `webhookId` (or the
    `X-Oktopost-Webhook` header); None when it names none of the instance's webhooks."""
    webhook_id: object = None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        webhook_id = payload.get("webhookId")
    if not isinstance(webhook_id, str):
        webhook_id = headers.get(WEBHOOK_HEADER)
    registered = instance.oktopost_webhooks.get(webhook_id) if isinstance(webhook_id, str) else None
    return registered.secret if registered else None
