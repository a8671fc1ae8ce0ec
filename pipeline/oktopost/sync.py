"""One managed Oktopost instance against Oktopost: its webhooks, and what their logs hold.

`sync_webhooks`: one webhook per wanted event type at the instance's `webhook_url`, found by URL
(`GET /v2/webhook`), so a second run or a restart registers nothing twice. A webhook whose Secret
is unknown (Oktopost shows it only on create) is replaced, since its pushes could not be verified.
`missed_payloads`: the webhook-log entries no attempt of which was answered 2xx — pushes the
ingress never acknowledged (abandoned after Oktopost's 3 retries, or still being retried).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pipeline.config.instances import Instance, OktopostWebhook
from pipeline.oktopost.api import OktopostClient
from pipeline.oktopost.registry import wanted_events

Registry = dict[str, OktopostWebhook]  # by Oktopost's webhook id
DESCRIPTION = "managed by the social events pipeline; do not edit"


def webhook_name(instance: Instance, event: str) -> str:
    return f"{instance.name} · {event}"


async def sync_webhooks(
    client: OktopostClient, instance: Instance, url: str, registry: Registry
) -> None:
    """Make Oktopost hold exactly the wanted webhooks; `registry` is updated as each call
    succeeds, so a failure half-way loses no Secret already issued."""
    wanted = wanted_events(instance)
    mine = [w for w in (await client.webhooks()).items if w.get("Url") == url]
    kept: set[str] = set()  # events
    kept_ids: set[str] = set()
    for webhook in mine:
        webhook_id, event = str(webhook.get("Id")), webhook.get("Event")
        if event not in wanted or webhook_id not in registry or event in kept:
            await client.delete(webhook_id)
            registry.pop(webhook_id, None)
            continue
        kept.add(str(event))
        kept_ids.add(webhook_id)
        name = webhook_name(instance, str(event))
        if webhook.get("Name") != name or not webhook.get("IsEnabled"):
            await client.update(webhook_id, {"name": name, "isEnabled": "1"})
    for webhook_id in [i for i in registry if i not in kept_ids]:
        del registry[webhook_id]  # gone at Oktopost (deleted by hand): registered again below
    for event in wanted:
        if event not in kept:
            created = await client.create(event, webhook_name(instance, event), url, DESCRIPTION)
            registry[str(created["Id"])] = OktopostWebhook(
                event=event, secret=str(created["Secret"])
            )


async def remove_webhooks(client: OktopostClient, url: str) -> None:
    """Delete every webhook at `url` (the instance was deleted or disabled)."""
    for webhook in (await client.webhooks()).items:
        if webhook.get("Url") == url:
            await client.delete(str(webhook.get("Id")))


async def missed_payloads(
    client: OktopostClient, registry: Registry, seen: set[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(webhook id, payload id, payload) of each logged push no attempt of which got a 2xx and
    that is not in `seen`; those answered 2xx are added to `seen`, to be skipped next time."""
    missed = []
    for webhook_id in list(registry):
        attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in await client.log(webhook_id):
            attempts[str(item.get("WebhookPayloadId") or item.get("Id"))].append(item)
        for payload_id, tries in attempts.items():
            if payload_id in seen:
                continue
            if any(_answered(item.get("ResponseCode")) for item in tries):
                seen.add(payload_id)
                continue
            payload = tries[0].get("Payload")
            if isinstance(payload, dict):
                missed.append((webhook_id, payload_id, payload))
    return missed


def _answered(code: Any) -> bool:
    try:
        return 200 <= int(code) < 300
    except (TypeError, ValueError):
        return False
