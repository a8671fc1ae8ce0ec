"""`pipeline secrets rotate`: re-seal every `config.*` record under the key ring's first key.

Reads `config.instances` and `config.subscriptions` to their end and writes again each live record
holding a secret that is plain (written before sealing) or sealed under another key; afterwards
the old keys can leave `PIPELINE_SECRET_KEYS`. A record written meanwhile through the admin API
may be overwritten by its older state: rotate while no configuration changes are made.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pipeline.config.keyring import KeyRing
from pipeline.config.sealing import ConfigCodec, needs_resealing
from pipeline.config.view import CompactedView
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic
from pipeline.errors import KafkaUnavailableError
from pipeline.producer import DurableProducer
from pipeline.settings import Settings

LOAD_TIMEOUT_SECONDS = 30.0
CONFIG_TOPICS = (Topic.CONFIG_INSTANCES, Topic.CONFIG_SUBSCRIPTIONS)


@dataclass(frozen=True)
class Rotated:
    topic: str
    records: int
    resealed: int

    def line(self, key_id: str) -> str:
        return f"{self.topic}: {self.resealed} of {self.records} records re-sealed under {key_id!r}"


async def rotate(settings: Settings, ring: KeyRing) -> list[Rotated]:
    codec = ConfigCodec(ring)
    producer = DurableProducer(
        settings.kafka_bootstrap,
        process="secrets-rotate",
        headers=RecordHeaders.from_manifest(settings),
    )
    if not await producer.start():
        raise KafkaUnavailableError(f"Kafka at {settings.kafka_bootstrap} did not answer")
    try:
        return [await _rotate_topic(settings, name, codec, producer) for name in CONFIG_TOPICS]
    finally:
        await producer.stop()


async def _rotate_topic(
    settings: Settings, name: str, codec: ConfigCodec, producer: DurableProducer
) -> Rotated:
    topic = settings.topic(name)
    view: CompactedView[bytes] = CompactedView(settings.kafka_bootstrap, topic, bytes)
    view.start()
    try:
        await asyncio.wait_for(view.caught_up.wait(), LOAD_TIMEOUT_SECONDS)
        records = view.items()
    except TimeoutError:
        raise KafkaUnavailableError(f"{topic} could not be read to its end") from None
    finally:
        await view.stop()
    resealed = 0
    for key, raw in records:
        if needs_resealing(codec.ring, name, raw):
            await producer.send(topic, key.encode(), _reseal(codec, name, raw))
            resealed += 1
    return Rotated(name, len(records), resealed)


def _reseal(codec: ConfigCodec, name: str, raw: bytes) -> bytes:
    if name == Topic.CONFIG_INSTANCES:
        return codec.instance_to_json(codec.instance_from_json(raw))
    return codec.subscription_to_json(codec.subscription_from_json(raw))
