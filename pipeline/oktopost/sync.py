"""One managed Oktopost instance against Oktopost: its webhooks, and what their logs hold.

`sync_webhooks`: one webhook per wanted event type at the instance's `webhook_url`, found by URL
(`GET /v2/webhook`), so a second run or a restart registers nothing twice. A webhook whose Secret
is unknown (Oktopost shows it only on create) is replaced, since its pushes could not be verified.

The guard. A listing that misses webhooks (a paging mistake, a faulty server) once made every
sync register them all again — 19 → 76 → 119 on one account — and drop the Secrets of webhooks
still pushing (issue 23). So a webhook the registry holds (the pipeline created it) and the
listing does not show is *unlisted*, and:
- it stays in the registry, so if it exists after all its pushes still verify and its log is read;
- it is reported in `SyncReport` (the manager logs it, counts it in
  `pipeline_oktopost_webhooks_unlisted_total` and shows it in the instance's health);
- it is replaced only when a complete listing (exactly `Total` items) confirms it missing, and
  only once: for an event the registry already holds two unlisted webhooks of, the listing
  itself is the suspect, and nothing more is created until one of them shows up;
- once a listed webhook serves its event it is deleted by id (a 404 is fine: it is gone) and
  forgotten, so a hidden one stops pushing with a Secret nobody checks.
Not recreating at all would be simpler, but a webhook deleted by hand at Oktopost would then
silence its event type until someone intervened; a complete listing is good evidence it is gone.
So one sync creates at most one webhook per wanted event it found none for, and a listing that
keeps missing webhooks costs at most one extra webhook per event in all, not one per round.

`missed_payloads`: the webhook-log entries no attempt of which was answered 2xx — pushes the
ingress never acknowledged (abandoned after Oktopost's 3 retries, or still being retried).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pipeline.config.instances import Instance, OktopostWebhook
from pipeline.oktopost.api import OktopostClient
from pipeline.oktopost.registry import wanted_events
from pipeline.providers.errors import WebhooksUnlistedError

Registry = dict[str, OktopostWebhook]  # by Oktopost's webhook id
DESCRIPTION = "managed by the social events pipeline; do not edit"
# An event with this many unlisted webhooks in the registry gets no further replacement.
MAX_UNLISTED_PER_EVENT = 2


@dataclass(frozen=True)
class SyncReport:
    """What one sync found: the registered webhooks the listing lacks, and how it was read."""

    unlisted: dict[str, str]  # webhook id → event, registered but not in the listing
    listed: int  # distinct webhooks the listing held (the whole account)
    total: int | None  # the listing's `Total`
    created: int

    @property
    def complete(self) -> bool:
        return self.total is not None and self.listed == self.total

    def unlisted_error(self) -> WebhooksUnlistedError | None:
        """The instance-health error for the unlisted webhooks, if any."""
        if not self.unlisted:
            return None
        shown = ", ".join(f"{i} ({event})" for i, event in sorted(self.unlisted.items()))
        total = "no Total" if self.total is None else f"Total {self.total}"
        return WebhooksUnlistedError(
            f"{len(self.unlisted)} webhook(s) the pipeline registered are not in Oktopost's "
            f"listing ({self.listed} listed, {total}): {shown}; created this sync: {self.created}"
        )


def webhook_name(instance: Instance, event: str) -> str:
    return f"{instance.name} · {event}"


async def sync_webhooks(
    client: OktopostClient, instance: Instance, url: str, registry: Registry
) -> SyncReport:
    """Make Oktopost hold exactly the wanted webhooks; `registry` is updated as each call
    succeeds, so a failure half-way loses no Secret already issued."""
    wanted = wanted_events(instance)
    listing = await client.webhooks()
    # Ours: at our URL, or registered by us at another (the public URL changed since).
    mine = [w for w in listing.items if w.get("Url") == url or str(w.get("Id")) in registry]
    served = await _keep_listed(client, instance, mine, url, registry)
    await _forget_superseded(client, registry, wanted, served)
    # Left now: registered webhooks of wanted events that no listed webhook serves.
    unlisted = {i: w.event for i, w in registry.items() if i not in served.values()}
    created = 0
    for event in dict.fromkeys(wanted):
        if event not in served and _may_create(registry, event, confirmed=listing.complete):
            webhook = await client.create(event, webhook_name(instance, event), url, DESCRIPTION)
            registry[str(webhook["Id"])] = OktopostWebhook(
                event=event, secret=str(webhook["Secret"])
            )
            created += 1
    return SyncReport(unlisted, len(listing.items), listing.total, created)


async def _keep_listed(
    client: OktopostClient,
    instance: Instance,
    mine: list[dict[str, Any]],
    url: str,
    registry: Registry,
) -> dict[str, str]:
    """Keep one listed webhook per wanted event whose Secret is known, delete the others;
    the kept ones by event."""
    wanted = wanted_events(instance)
    served: dict[str, str] = {}  # event → webhook id
    for webhook in mine:
        webhook_id, event = str(webhook.get("Id")), webhook.get("Event")
        if event not in wanted or webhook_id not in registry or event in served:
            await client.delete(webhook_id)
            registry.pop(webhook_id, None)
            continue
        served[str(event)] = webhook_id
        fields = {"name": webhook_name(instance, str(event)), "isEnabled": "1", "url": url}
        current = {
            "name": webhook.get("Name"),
            "isEnabled": "1" if _enabled(webhook.get("IsEnabled")) else "0",
            "url": webhook.get("Url"),
        }
        if current != fields:
            await client.update(webhook_id, fields)
    return served


async def _forget_superseded(
    client: OktopostClient, registry: Registry, wanted: tuple[str, ...], served: dict[str, str]
) -> None:
    """Delete and forget unlisted webhooks whose event is no longer wanted or is served by a
    listed one: they can only be duplicates, or gone (then the delete answers 404)."""
    listed = set(served.values())
    for webhook_id, webhook in list(registry.items()):
        if webhook_id not in listed and (webhook.event not in wanted or webhook.event in served):
            await client.delete(webhook_id)
            del registry[webhook_id]


def _may_create(registry: Registry, event: str, *, confirmed: bool) -> bool:
    """A webhook for `event`, which no listed webhook serves: always when the registry holds
    none; as a replacement only for one a complete listing confirmed missing, and once."""
    unlisted = sum(1 for webhook in registry.values() if webhook.event == event)
    return unlisted == 0 or (confirmed and unlisted < MAX_UNLISTED_PER_EVENT)


def _enabled(value: Any) -> bool:
    """`IsEnabled` as a boolean, or as the text or number some answers carry."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false")
    return bool(value)


async def remove_webhooks(client: OktopostClient, url: str, registry: Registry) -> None:
    """Delete every webhook at `url` and every registered one (the instance was deleted or
    disabled); by id as well, so one a listing misses is not left behind."""
    listing = await client.webhooks()
    doomed = {str(w.get("Id")) for w in listing.items if w.get("Url") == url} | set(registry)
    for webhook_id in sorted(doomed):
        await client.delete(webhook_id)


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
