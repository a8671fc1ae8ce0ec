"""The Oktopost webhook manager (runs in `pipeline poller`): `config.instances` → Oktopost's
webhooks API; missed pushes from the webhook log → `webhooks.raw`; outcomes → `instances.health`.

Every managed instance has a task of its own: each `reconcile_interval_seconds` it syncs its
webhooks (`pipeline.oktopost.sync`) and ingests what their logs recorded but the ingress never
acknowledged. The Secrets are kept on the instance (`oktopost_webhooks`, written only here), which
is how every ingress verifies each push. Deleting or disabling the instance deletes its webhooks.
Oktopost failing (bad credentials, down) is the instance's health; the ingress never waits on it.
So is a registered webhook Oktopost's listing lacks (the sync's guard, `oktopost.sync`): logged,
counted in `pipeline_oktopost_webhooks_unlisted_total`, and the health's reason
`webhooks_unlisted` until the listing shows every registered webhook again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import orjson
from aiohttp import web

from pipeline import metrics
from pipeline.config.instances import Instance, instance_key
from pipeline.config.keyring import key_ring_for
from pipeline.config.sealing import ConfigCodec
from pipeline.config.view import CompactedView
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic
from pipeline.errors import KafkaUnavailableError
from pipeline.events.cloudevent import rfc3339
from pipeline.events.envelope import EnvelopeOptions, WebhookEnvelope, encode_envelope
from pipeline.oktopost.api import DEFAULT_API_BASE_URL, OktopostAccount, OktopostClient
from pipeline.oktopost.registry import CONTENT_IDENTITY, is_managed, reconcile_interval
from pipeline.oktopost.sync import (
    Registry,
    SyncReport,
    missed_payloads,
    remove_webhooks,
    sync_webhooks,
)
from pipeline.pollers.instance_health import HealthBoard, HealthTracker, decode_health
from pipeline.producer import DurableProducer
from pipeline.providers.errors import PollerError, WebhooksUnlistedError
from pipeline.settings import Settings

log = logging.getLogger(__name__)
STEP_SECONDS = 1.0
RETRY_AFTER_FAILURE = 5.0  # seconds: soon enough for `health` to show an outage within ~10 s


class _SilentBoard(HealthBoard):
    """The poller's instances gauge counts polled instances only."""

    def _publish(self) -> None:
        return


def _signature(instance: Instance) -> tuple[Any, ...]:
    """What a running task depends on (not `oktopost_webhooks`: the task writes that itself)."""
    return (
        instance.name,
        instance.include_raw,
        instance.credentials,
        instance.api_base_url,
        instance.oktopost_events,
        instance.reconcile_interval_seconds,
    )


@dataclass
class _Managed:
    instance: Instance
    registry: Registry
    seen: set[str] = field(default_factory=set)  # log payload ids settled already
    task: asyncio.Task[None] | None = None


class OktopostManager:
    """The managed Oktopost instances of one poller process."""

    def __init__(self, settings: Settings) -> None:
        bootstrap = settings.kafka_bootstrap
        self._settings = settings
        self._producer = DurableProducer(
            bootstrap, process="poller", headers=RecordHeaders.from_manifest(settings)
        )
        # The instances' secrets (credentials, the webhooks' Secrets) are sealed on Kafka.
        self._codec = ConfigCodec(key_ring_for(settings))
        self._instances = CompactedView(
            bootstrap, settings.topic(Topic.CONFIG_INSTANCES), self._codec.instance_from_json
        )
        self._health = CompactedView(
            bootstrap, settings.topic(Topic.INSTANCES_HEALTH), decode_health
        )
        self._running: dict[str, _Managed] = {}
        self._retiring: dict[str, Instance] = {}  # deleted or disabled: webhooks to delete
        self._follower: asyncio.Task[None] | None = None
        public = settings.public_url or f"http://127.0.0.1:{settings.ingress_port}"
        self._public_url = public.rstrip("/")

    def webhook_url(self, instance: Instance) -> str:
        return f"{self._public_url}/v1/webhooks/oktopost/{instance_key(instance.id)}"

    async def start(self) -> None:
        await self._producer.start()
        self._instances.start()
        self._health.start()
        self._follower = asyncio.create_task(self._follow(), name="oktopost:manager")

    async def stop(self) -> None:
        tasks = [m.task for m in self._running.values() if m.task] + [self._follower]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        await self._health.stop()
        await self._instances.stop()
        await self._producer.stop()

    async def _follow(self) -> None:
        await self._instances.caught_up.wait()
        await self._health.caught_up.wait()
        while True:
            await self.step()
            await asyncio.sleep(STEP_SECONDS)

    async def step(self) -> None:
        """Start, restart and stop instance tasks; keep Secrets on the instances; retire."""
        managed = [i for i in self._instances.values() if is_managed(i)]
        wanted = {i.id: i for i in managed if i.enabled}
        for instance in managed:
            if not instance.enabled and instance.oktopost_webhooks:
                self._retiring[instance.id] = instance
        for instance_id, running in list(self._running.items()):
            current = wanted.get(instance_id)
            if current is None or _signature(current) != _signature(running.instance):
                await self._stop(instance_id)
                # A record this process cannot read is not a deletion: its webhooks stay.
                # A deleted one's are deleted by id, with the registry as it is now.
                if current is None and instance_id not in self._instances.unreadable:
                    self._retiring[instance_id] = msgspec.structs.replace(
                        running.instance, oktopost_webhooks=dict(running.registry)
                    )
        for instance_id, instance in wanted.items():
            self._retiring.pop(instance_id, None)
            if instance_id not in self._running:
                self._start(instance)
        for running in self._running.values():
            await self._quietly(self._persist(running))
        for instance_id, instance in list(self._retiring.items()):
            if instance_id not in self._instances.unreadable:
                await self._retire(instance_id, instance)

    def _start(self, instance: Instance) -> None:
        running = _Managed(instance, dict(instance.oktopost_webhooks))
        running.task = asyncio.create_task(self._run(running), name=f"oktopost:{instance.id}")
        self._running[instance.id] = running
        log.info("managing the Oktopost webhooks of instance %s", instance.id)

    async def _stop(self, instance_id: str) -> None:
        running = self._running.pop(instance_id)
        if running.task is not None:
            running.task.cancel()
            await asyncio.wait({running.task})

    async def _run(self, running: _Managed) -> None:
        instance = running.instance
        health = HealthTracker(
            instance.id,
            self._producer,
            self._settings.topic(Topic.INSTANCES_HEALTH),
            self._health,
            _SilentBoard(),
        )
        async with self._client(instance) as client:
            while True:
                pause = reconcile_interval(instance)
                try:
                    unlisted = _unlisted_error(instance, await self._cycle(client, running))
                    if unlisted is None:
                        await self._quietly(health.succeeded(datetime.now(UTC)))
                    else:
                        await self._quietly(health.failed(unlisted, datetime.now(UTC)))
                except PollerError as exc:
                    log.warning("oktopost instance %s: %s", instance.id, exc)
                    await self._quietly(health.failed(exc, datetime.now(UTC)))
                    pause = min(pause, RETRY_AFTER_FAILURE)
                except KafkaUnavailableError as exc:
                    log.warning("oktopost instance %s: %s", instance.id, exc)
                    pause = min(pause, RETRY_AFTER_FAILURE)
                await asyncio.sleep(pause)

    async def _cycle(self, client: OktopostClient, running: _Managed) -> SyncReport:
        try:
            report = await sync_webhooks(
                client, running.instance, self.webhook_url(running.instance), running.registry
            )
        finally:
            await self._persist(running)
        for webhook_id, payload_id, payload in await missed_payloads(
            client, running.registry, running.seen
        ):
            await self._ingest(running.instance, webhook_id, payload_id, payload)
            running.seen.add(payload_id)  # only once Kafka acknowledged it
        return report

    @contextlib.asynccontextmanager
    async def _client(self, instance: Instance) -> AsyncIterator[OktopostClient]:
        account = OktopostAccount(
            instance.api_base_url or DEFAULT_API_BASE_URL,
            str(instance.credentials.get("account_id")),
            str(instance.credentials.get("api_key")),
        )
        async with aiohttp.ClientSession() as session:
            yield OktopostClient(session, account)

    async def _persist(self, running: _Managed) -> None:
        """Keep the registry on the newest copy of the instance (an admin write of an older copy
        may have dropped it: it is written again on the next step)."""
        latest = self._instances.lookup(running.instance.id)
        if not isinstance(latest, Instance) or latest.oktopost_webhooks == running.registry:
            return
        await self._write(msgspec.structs.replace(latest, oktopost_webhooks=dict(running.registry)))

    async def _write(self, instance: Instance) -> None:
        topic = self._settings.topic(Topic.CONFIG_INSTANCES)
        sealed = self._codec.instance_to_json(instance)
        meta = await self._producer.send(topic, instance.id.encode(), sealed)
        self._instances.apply(instance.id, instance, meta.offset)

    async def _ingest(
        self, instance: Instance, webhook_id: str, payload_id: str, payload: dict[str, Any]
    ) -> None:
        """A missed push onto `webhooks.raw`, as the ingress would have written it."""
        envelope = WebhookEnvelope(
            request_id="reconcile-" + uuid.uuid4().hex,
            provider="oktopost",
            instance_id=instance.id,
            received_at=rfc3339(datetime.now(UTC)),
            headers={"x-oktopost-webhook": webhook_id, "x-oktopost-payload": payload_id},
            options=EnvelopeOptions(include_raw=instance.include_raw, identity=CONTENT_IDENTITY),
            body=orjson.dumps(payload),
        )
        topic = self._settings.topic(Topic.WEBHOOKS_RAW)
        await self._producer.send(topic, instance.id.encode(), encode_envelope(envelope))
        log.info(
            "instance %s: ingested missed push %s from the webhook log", instance.id, payload_id
        )

    async def _retire(self, instance_id: str, instance: Instance) -> None:
        """Delete the webhooks of a deleted or disabled instance; retried each step until done."""
        try:
            async with self._client(instance) as client:
                await remove_webhooks(
                    client, self.webhook_url(instance), dict(instance.oktopost_webhooks)
                )
        except PollerError as exc:
            log.warning("cannot delete the webhooks of instance %s yet: %s", instance_id, exc)
            return
        del self._retiring[instance_id]
        latest = self._instances.lookup(instance_id)
        if isinstance(latest, Instance) and latest.oktopost_webhooks:
            await self._quietly(self._write(msgspec.structs.replace(latest, oktopost_webhooks={})))
        log.info("deleted the Oktopost webhooks of instance %s", instance_id)

    async def _quietly(self, write: Any) -> None:
        try:
            await write
        except KafkaUnavailableError as exc:
            log.warning("oktopost manager: %s", exc)


def _unlisted_error(instance: Instance, report: SyncReport) -> WebhooksUnlistedError | None:
    """Log and count registered webhooks the listing lacks; the error the health shows."""
    error = report.unlisted_error()
    if error is not None:
        listing = "complete" if report.complete else "incomplete"
        metrics.OKTOPOST_WEBHOOKS_UNLISTED.labels(listing).inc(len(report.unlisted))
        log.warning("oktopost instance %s: %s", instance.id, error)
    return error


def managed_webhooks(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the manager beside an aiohttp app (the poller's)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        manager = OktopostManager(settings)
        await manager.start()
        yield
        await manager.stop()

    return lifecycle
