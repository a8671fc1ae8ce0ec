"""`pipeline poller`: follows `config.instances` and polls the instances of the shards it owns.

`config.instances` → this service → one task per instance of the shards it owns (`pollers.shards`)
→ Hootsuite REST → `polls.raw`, `pollers.state`, `instances.health`, `pollers.credentials`.
Instances added, changed, disabled or deleted take effect within a second, without a restart; a
deleted instance's poller state is tombstoned. Several pollers share the instances: when shards
come to this one, it first reads what their previous owner wrote, then polls them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pipeline.config.instances import Instance
from pipeline.config.keyring import key_ring_for
from pipeline.config.sealing import ConfigCodec
from pipeline.config.view import CompactedView, unreadable_summary
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic
from pipeline.errors import KafkaUnavailableError
from pipeline.health import KafkaProbe
from pipeline.pollers.credentials import CredentialStore, credentials_decoder
from pipeline.pollers.instance_health import HealthBoard, decode_health
from pipeline.pollers.instance_loop import PollerContext, run_instance
from pipeline.pollers.oktopost_webhooks import managed_webhooks
from pipeline.pollers.polling_config import is_polled
from pipeline.pollers.shards import ShardMembership
from pipeline.pollers.state import PollerStateView
from pipeline.pollers.websub import websub_subscriptions
from pipeline.pollers.writer import PollerTopics
from pipeline.producer import DurableProducer
from pipeline.settings import Settings
from pipeline.web import add_health_routes, json_errors, serve_until_signal

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 1.0
RESTART_AFTER_CRASH = 10.0  # seconds
STOP_ATTEMPTS = 5  # rounds of cancellation at shutdown, a second apart
SYNC_SECONDS = 10.0  # how long taking shards over may wait for the views to catch up


def _polling_signature(instance: Instance) -> tuple[Any, ...]:
    """What a running task depends on; a change to any of it restarts the task."""
    return (instance.provider, instance.include_raw, instance.polling, instance.credentials)


@dataclass
class _Running:
    instance: Instance
    task: asyncio.Task[None]
    crashed_at: float | None = None

    def outdated(self, wanted: Instance | None) -> bool:
        """Whether to stop this task: unwanted, reconfigured, or crashed a while ago (a retry)."""
        if wanted is None or _polling_signature(wanted) != _polling_signature(self.instance):
            return True
        crashed_at = self.crashed_at
        return crashed_at is not None and time.monotonic() - crashed_at >= RESTART_AFTER_CRASH


class PollerService:
    """The instance tasks of one poller process, kept in line with `config.instances`."""

    def __init__(self, settings: Settings) -> None:
        bootstrap = settings.kafka_bootstrap
        ring = key_ring_for(settings)
        self._producer = DurableProducer(
            bootstrap, process="poller", headers=RecordHeaders.from_manifest(settings)
        )
        self._instances = CompactedView(
            bootstrap, settings.topic(Topic.CONFIG_INSTANCES), ConfigCodec(ring).instance_from_json
        )
        self._probe = KafkaProbe(bootstrap)
        topics = PollerTopics.from_settings(settings)
        credentials = CompactedView(
            bootstrap, topics.pollers_credentials, credentials_decoder(ring)
        )
        self._context = PollerContext(
            writer=self._producer,
            state=PollerStateView(bootstrap, topics.pollers_state),
            health=CompactedView(bootstrap, topics.instances_health, decode_health),
            board=HealthBoard(),
            topics=topics,
            credentials=CredentialStore(
                self._producer, topics.pollers_credentials, credentials, ring
            ),
            kafka_ready=self._probe.ready,
        )
        self._shards = ShardMembership(
            bootstrap,
            settings.topic(Topic.POLLERS_SHARDS),
            f"{settings.app_id}-pollers",
            self._release,
        )
        self._synced_generation = 0  # the shard generation the views were last synced for
        # Held by a reconcile pass and by a release of our shards, so neither sees half the other.
        self._lock = asyncio.Lock()
        self._running: dict[str, _Running] = {}
        self._reconciler: asyncio.Task[None] | None = None

    def _views(self) -> tuple[CompactedView[Any], ...]:
        context = self._context
        return (self._instances, context.state, context.health, context.credentials.view)

    async def start(self) -> None:
        await self._producer.start()  # not fatal: sends retry the connection
        for view in self._views():
            view.start()
        self._shards.start()
        self._reconciler = asyncio.create_task(self._reconcile_forever(), name="poller:reconcile")

    async def ready(self) -> bool:
        """Kafka reachable, every view loaded, the instances and rotated tokens readable."""
        loaded = all(view.caught_up.is_set() for view in self._views())
        sealed = (self._instances, self._context.credentials.view)
        return loaded and unreadable_summary(sealed) is None and await self._probe.ready()

    async def stop(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
        await self._stop_all()
        await self._shards.stop()  # leaves the group only now: our instances are stopped
        for view in self._views():
            await view.stop()
        await self._producer.stop()

    async def _reconcile_forever(self) -> None:
        # Polling before the state is loaded would report every known state again.
        for view in self._views():
            await view.caught_up.wait()
        log.info("poller state loaded; following config.instances")
        while True:
            await self.reconcile()
            await asyncio.sleep(RECONCILE_SECONDS)

    async def reconcile(self) -> None:
        """Start, restart and stop instance tasks so they match the instances' configuration
        and the shards this process owns."""
        async with self._lock:
            if not await self._synced_with_owners():
                return
            owns = self._shards.owns
            wanted = {i.id: i for i in self._instances.values() if is_polled(i) and owns(i.id)}
            for instance_id, running in list(self._running.items()):
                if running.outdated(wanted.get(instance_id)):
                    await self._stop_task(instance_id)
            for instance_id, instance in wanted.items():
                if instance_id not in self._running:
                    self._start_task(instance)
            for instance_id in self._context.failure_logs.keys() - wanted.keys():
                del self._context.failure_logs[instance_id]
            await self._forget_deleted()

    async def _synced_with_owners(self) -> bool:
        """After shards were given to us, read what their previous owner wrote (poll state,
        health, rotated tokens) before polling them: it acked those writes before it died."""
        generation = self._shards.generation
        if generation == self._synced_generation:
            return True
        try:
            async with asyncio.timeout(SYNC_SECONDS):
                await asyncio.gather(*(view.synced() for view in self._views()))
        except TimeoutError:
            log.warning("poller views not caught up in %.0fs; polling waits", SYNC_SECONDS)
            return False
        self._synced_generation = generation
        return True

    async def _release(self) -> None:
        """Our shards are being taken away: stop every instance before the group moves them."""
        async with self._lock:
            await self._stop_all()

    def _start_task(self, instance: Instance) -> None:
        task = asyncio.create_task(
            run_instance(instance, self._context), name=f"poller:{instance.id}"
        )
        running = _Running(instance, task)
        task.add_done_callback(functools.partial(_note_crash, running))
        self._running[instance.id] = running
        log.info("polling instance %s", instance.id)

    async def _stop_all(self) -> None:
        """Cancel every instance task at once; cancel again any that swallowed a cancellation
        (aiohttp can turn a cancellation racing its own timeout into a TimeoutError)."""
        running = list(self._running.values())
        self._running.clear()
        pending = {r.task for r in running}
        for _ in range(STOP_ATTEMPTS):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        if pending:
            log.warning("%d instance tasks did not stop; leaving them", len(pending))
        for stopped in running:
            self._context.board.remove(stopped.instance.id)

    async def _stop_task(self, instance_id: str) -> None:
        running = self._running.pop(instance_id)
        running.task.cancel()
        # Wait for it: two tasks of one instance at once would race on its state. `wait` leaves
        # the task's own outcome alone (a crash was logged already) and lets our caller cancel us.
        await asyncio.wait({running.task})
        self._context.board.remove(instance_id)

    async def _forget_deleted(self) -> None:
        """Tombstone the poller state and health of instances that no longer exist."""
        # An instance whose record this process cannot read is not a deleted one.
        known = {instance.id for instance in self._instances.values()}
        known |= self._instances.unreadable.keys()
        context = self._context
        health = {record.instance_id for record in context.health.values()}
        health |= context.health.unreadable.keys()
        rotated = {record.instance_id for record in context.credentials.view.values()}
        rotated |= context.credentials.view.unreadable.keys()
        remembered = context.state.instance_ids() | health | rotated
        for instance_id in remembered - known:
            if not self._shards.owns(instance_id):
                continue  # its owner forgets it
            try:
                await self._forget(instance_id)
            except KafkaUnavailableError as exc:
                log.warning("cannot forget instance %s yet: %s", instance_id, exc)

    async def _forget(self, instance_id: str) -> None:
        context = self._context
        for item_id in context.state.tracked(instance_id):
            key = f"{instance_id}/{item_id}"
            meta = await self._producer.send(context.topics.pollers_state, key.encode(), None)
            context.state.apply(key, None, meta.offset)
        keyed_by_instance = (
            (context.health, context.topics.instances_health),
            (context.credentials.view, context.topics.pollers_credentials),
        )
        for view, topic in keyed_by_instance:
            if view.holds(instance_id):
                meta = await self._producer.send(topic, instance_id.encode(), None)
                view.apply(instance_id, None, meta.offset)
        log.info("forgot the poller state of deleted instance %s", instance_id)


def _note_crash(running: _Running, task: asyncio.Task[None]) -> None:
    """Log a task that died of an unexpected error; the reconciler restarts it later."""
    if task.cancelled() or task.exception() is None:
        return
    running.crashed_at = time.monotonic()
    log.error("polling instance %s crashed", running.instance.id, exc_info=task.exception())


SERVICE = web.AppKey("poller_service", PollerService)


def create_poller_app(settings: Settings) -> web.Application:
    """The poller's HTTP side: `/healthz`, `/readyz`, `/metrics`; the service runs alongside."""
    service = PollerService(settings)
    app = web.Application(middlewares=[json_errors])
    app[SERVICE] = service
    add_health_routes(app, service.ready)
    app.cleanup_ctx.append(_lifecycle)
    app.cleanup_ctx.append(managed_webhooks(settings))  # Oktopost instances' own webhooks
    app.cleanup_ctx.append(websub_subscriptions(settings))  # YouTube channels at their hubs
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    await service.start()
    yield
    await service.stop()


async def run_poller(settings: Settings) -> None:
    """Serve the poller until SIGINT or SIGTERM, then stop every task and Kafka client."""
    app = create_poller_app(settings)
    await serve_until_signal(app, settings.bind_host, settings.poller_port, "poller")
