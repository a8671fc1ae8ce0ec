"""The YouTube WebSub manager (runs in `pipeline poller`): `config.instances` + `websub.leases` →
the hub's `/subscribe`, so that every channel of every enabled `youtube` instance stays subscribed.

One poller at a time manages an instance: the managers form their own consumer group on
`pollers.shards` (`<app id>-websub`), so an instance's channels are kept by the poller owning its
shard, and by another once that one leaves or dies (after the session timeout). Leases live on
Kafka (`websub.leases`, written by the ingress as it answers the hub's verification), so a
restarted or new owner renews each when two thirds of it have passed — not at every start, and
not too late. A request whose verification does not come back is repeated after
`RETRY_SECONDS`. A channel dropped from an instance is unsubscribed; the leases of deleted or
disabled instances are forgotten (the ingress answers their URL 404, so the hub's lease lapses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from pipeline.config.instances import Instance, instance_key
from pipeline.config.keyring import key_ring_for
from pipeline.config.sealing import ConfigCodec
from pipeline.config.view import CompactedView
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic
from pipeline.errors import KafkaUnavailableError
from pipeline.pollers.shards import ShardMembership
from pipeline.producer import DurableProducer
from pipeline.providers.errors import PollerError
from pipeline.providers.youtube import DEFAULT_LEASE_SECONDS, feed_topic
from pipeline.settings import Settings
from pipeline.websub.hub import DEFAULT_HUB_URL, request_subscription
from pipeline.websub.leases import Lease, LeaseWriter, decode_lease, lease_key

log = logging.getLogger(__name__)
PROVIDER = "youtube"
RENEW_FRACTION = 2 / 3
RETRY_SECONDS = 30.0
STEP_SECONDS = 1.0


def is_subscriber(instance: Instance) -> bool:
    return instance.provider == PROVIDER and instance.enabled and bool(instance.channels)


@dataclass(frozen=True)
class Request:
    """One call to make to an instance's hub."""

    instance: Instance
    channel_id: str
    mode: str  # "subscribe" (also a renewal) or "unsubscribe"

    @property
    def key(self) -> str:
        return lease_key(self.instance.id, self.channel_id)


def due(
    instances: Iterable[Instance],
    leases: Mapping[str, Lease],
    requested: Mapping[str, float],
    now: float,
) -> list[Request]:
    """The subscriptions to request now: no lease yet, or two thirds of it passed; not those
    asked for since then whose verification may still come (for `RETRY_SECONDS`)."""
    found = []
    for instance in instances:
        for channel in instance.channels:
            key = lease_key(instance.id, channel)
            lease = leases.get(key)
            renew_at = lease.renew_at(RENEW_FRACTION).timestamp() if lease else -math.inf
            asked = requested.get(key)
            waiting = asked is not None and asked >= renew_at and now - asked < RETRY_SECONDS
            if now >= renew_at and not waiting:
                found.append(Request(instance, channel, "subscribe"))
    return found


def dropped(
    leases: Iterable[Lease], instances: Mapping[str, Instance], unreadable: Mapping[str, object]
) -> tuple[list[Request], list[Lease]]:
    """(channels to unsubscribe, leases to forget): a channel its instance no longer lists; the
    leases of instances deleted, disabled or no longer YouTube's (an unreadable record is none)."""
    unsubscribe, forget = [], []
    for lease in leases:
        instance = instances.get(lease.instance_id)
        if lease.instance_id in unreadable:
            continue
        if instance is None or not instance.enabled or instance.provider != PROVIDER:
            forget.append(lease)
        elif lease.channel_id not in instance.channels:
            unsubscribe.append(Request(instance, lease.channel_id, "unsubscribe"))
    return unsubscribe, forget


class WebSubManager:
    """The YouTube instances of one poller process, kept subscribed at their hubs."""

    def __init__(self, settings: Settings) -> None:
        bootstrap = settings.kafka_bootstrap
        self._producer = DurableProducer(
            bootstrap, process="poller", headers=RecordHeaders.from_manifest(settings)
        )
        codec = ConfigCodec(key_ring_for(settings))  # hub.secret is sealed on the instance
        self._instances = CompactedView(
            bootstrap, settings.topic(Topic.CONFIG_INSTANCES), codec.instance_from_json
        )
        self._leases = CompactedView(bootstrap, settings.topic(Topic.WEBSUB_LEASES), decode_lease)
        self._writer = LeaseWriter(settings, self._producer)
        self._shards = ShardMembership(
            bootstrap, settings.topic(Topic.POLLERS_SHARDS), f"{settings.app_id}-websub", _nothing
        )
        self._requested: dict[str, float] = {}  # lease key → when its last request was sent
        public = settings.public_url or f"http://127.0.0.1:{settings.ingress_port}"
        self._public_url = public.rstrip("/")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        self._instances.start()
        self._leases.start()
        self._shards.start()
        self._task = asyncio.create_task(self._follow(), name="websub:manager")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._shards.stop()
        await self._leases.stop()
        await self._instances.stop()
        await self._producer.stop()

    async def _follow(self) -> None:
        await self._instances.caught_up.wait()
        await self._leases.caught_up.wait()
        async with aiohttp.ClientSession() as session:
            while True:
                await self.step(session)
                await asyncio.sleep(STEP_SECONDS)

    async def step(self, session: aiohttp.ClientSession) -> None:
        """Request what is due for the instances of the shards this process owns."""
        owns = self._shards.owns
        instances = {i.id: i for i in self._instances.values()}
        mine = [i for i in instances.values() if is_subscriber(i) and owns(i.id)]
        leases = {
            lease_key(lease.instance_id, lease.channel_id): lease for lease in self._leases.values()
        }
        requests = due(mine, leases, self._requested, time.time())
        owned_leases = [lease for lease in leases.values() if owns(lease.instance_id)]
        unsubscribe, forget = dropped(owned_leases, instances, self._instances.unreadable)
        for request in [*requests, *unsubscribe]:
            await self._send(session, request)
        for lease in [*forget, *(leases[r.key] for r in unsubscribe)]:
            try:
                await self._writer.forget(lease.instance_id, lease.channel_id)
            except KafkaUnavailableError as exc:
                log.warning("websub: lease %s not forgotten yet: %s", lease.channel_id, exc)

    async def _send(self, session: aiohttp.ClientSession, request: Request) -> None:
        instance = request.instance
        self._requested[request.key] = time.time()
        try:
            await request_subscription(
                session,
                instance.api_base_url or DEFAULT_HUB_URL,
                mode=request.mode,
                callback=f"{self._public_url}/v1/webhooks/{PROVIDER}/{instance_key(instance.id)}",
                topic=feed_topic(request.channel_id),
                lease_seconds=instance.lease_seconds or DEFAULT_LEASE_SECONDS,
                secret=instance.signing_secret,
            )
        except PollerError as exc:
            log.warning("websub: instance %s channel %s: %s", instance.id, request.channel_id, exc)
            return
        log.info(
            "websub: asked the hub to %s %s for %s", request.mode, request.channel_id, instance.id
        )


async def _nothing() -> None:
    """Losing shards stops nothing: the next step only acts for the shards still owned."""


def websub_subscriptions(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the manager beside an aiohttp app (the poller's)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        manager = WebSubManager(settings)
        await manager.start()
        yield
        await manager.stop()

    return lifecycle
