"""What every ingress handler shares: settings, the durable producer, the instances view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pipeline.config.instances import Instance
from pipeline.config.keyring import KeyRing
from pipeline.config.sealing import ConfigCodec
from pipeline.config.subscriptions import Subscription
from pipeline.config.view import CompactedView, Unreadable
from pipeline.contract.topics import Topic
from pipeline.health import KafkaProbe
from pipeline.ingress.readmodels.attempt_log import AttemptLog
from pipeline.oktopost.registry import is_managed
from pipeline.pollers.instance_health import InstanceHealth, shown_health
from pipeline.producer import DurableProducer
from pipeline.settings import Settings


@dataclass(frozen=True)
class Ingress:
    settings: Settings
    producer: DurableProducer
    instances: CompactedView[Instance]
    health: CompactedView[InstanceHealth]  # instances.health, written by the pollers
    subscriptions: CompactedView[Subscription]
    attempt_log: AttemptLog
    probe: KafkaProbe
    # Seals secrets on their way to `config.*`; the default's key dies with the process (tests).
    codec: ConfigCodec = field(default_factory=lambda: ConfigCodec(KeyRing.ephemeral()))

    async def put_instance(self, instance_id: str, value: Instance | None) -> None:
        """Write to `config.instances` (None: tombstone) and see it here before the view does."""
        topic = self.settings.topic(Topic.CONFIG_INSTANCES)
        raw = self.codec.instance_to_json(value) if value else None
        meta = await self.producer.send(topic, instance_id.encode(), raw)
        self.instances.apply(instance_id, value, meta.offset)

    async def put_subscription(self, subscription_id: str, value: Subscription | None) -> None:
        """Write to `config.subscriptions` (None: tombstone) and see it here at once."""
        topic = self.settings.topic(Topic.CONFIG_SUBSCRIPTIONS)
        raw = self.codec.subscription_to_json(value) if value else None
        meta = await self.producer.send(topic, subscription_id.encode(), raw)
        self.subscriptions.apply(subscription_id, value, meta.offset)

    def show(self, instance: Instance) -> dict[str, Any]:
        """An instance as the admin API shows it: no secrets, with its webhook URL and health."""
        shown = instance.public(self.public_url)
        if not instance.polling.get("enabled") and not is_managed(instance):
            shown["health"] = {"status": "not_polled"}
        else:
            health = self.health.lookup(instance.id)
            if isinstance(health, Unreadable):  # derived and rewritten by the pollers: shown
                shown["health"] = {"status": "unknown", "error": "health record unreadable"}
            else:
                shown["health"] = shown_health(health) if health else {"status": "pending"}
        return shown

    @property
    def public_url(self) -> str:
        return self.settings.public_url or f"http://127.0.0.1:{self.settings.ingress_port}"

    async def ready(self) -> bool:
        """Kafka reachable and the configuration loaded. A record this process cannot read is
        answered 503 where it is used (that instance's webhooks), not here: a load balancer
        would take the ingress out for every instance."""
        loaded = self.instances.caught_up.is_set() and self.subscriptions.caught_up.is_set()
        return loaded and await self.probe.ready()

    def start(self) -> None:
        self.instances.start()
        self.health.start()
        self.subscriptions.start()
        self.attempt_log.follower.start()

    async def stop(self) -> None:
        await self.attempt_log.follower.stop()
        await self.subscriptions.stop()
        await self.health.stop()
        await self.instances.stop()


INGRESS = web.AppKey("ingress", Ingress)
