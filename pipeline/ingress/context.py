"""What every ingress handler shares: settings, the durable producer, the instances view."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from pipeline.config.instances import Instance
from pipeline.config.view import CompactedView
from pipeline.health import KafkaProbe
from pipeline.producer import DurableProducer
from pipeline.settings import Settings


@dataclass(frozen=True)
class Ingress:
    settings: Settings
    producer: DurableProducer
    instances: CompactedView[Instance]
    probe: KafkaProbe

    @property
    def public_url(self) -> str:
        return self.settings.public_url or f"http://127.0.0.1:{self.settings.ingress_port}"

    async def ready(self) -> bool:
        return self.instances.caught_up.is_set() and await self.probe.ready()


INGRESS = web.AppKey("ingress", Ingress)
