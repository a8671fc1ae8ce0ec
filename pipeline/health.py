"""Kafka reachability: `/readyz` probes, topic metadata, shared by every process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaError


async def port_open(bootstrap: str, timeout: float) -> bool:
    """A plain TCP connect first, so a stopped broker does not make aiokafka log errors."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


async def broker_ready(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when a metadata request succeeds and names at least one broker."""
    if not await port_open(bootstrap, timeout):
        return False
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return bool(client.cluster.brokers())
    except (KafkaError, TimeoutError, OSError):
        return False
    finally:
        await client.close()


async def cluster_metadata(bootstrap: str, timeout: float | None = None) -> ClusterMetadata:
    """One fresh metadata request from a client of its own (every `timeout` seconds at most)."""
    request_ms = {} if timeout is None else {"request_timeout_ms": int(timeout * 1000)}
    client = AIOKafkaClient(bootstrap_servers=bootstrap, **request_ms)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return await asyncio.wait_for(client.fetch_all_metadata(), timeout)
    finally:
        await client.close()


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The partition numbers of `topic` (empty when it does not exist)."""
    cluster = await cluster_metadata(bootstrap)
    return sorted(cluster.partitions_for_topic(topic) or ())


async def unlisted_topics(bootstrap: str, topics: Iterable[str], timeout: float = 5.0) -> set[str]:
    """The `topics` a fresh metadata request does not list with partitions (all, on an error)."""
    wanted = set(topics)
    try:
        cluster = await cluster_metadata(bootstrap, timeout)
    except (KafkaError, TimeoutError, OSError):
        return wanted
    return {topic for topic in wanted if not cluster.partitions_for_topic(topic)}


class KafkaProbe:
    """Answers "can this process reach Kafka?", probing at most once per `ttl` seconds."""

    def __init__(self, bootstrap: str, ttl: float = 2.0) -> None:
        self._bootstrap = bootstrap
        self._ttl = ttl
        self._checked_at = float("-inf")
        self._ready = False
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._ttl:
                self._ready = await broker_ready(self._bootstrap, timeout=1.5)
                self._checked_at = time.monotonic()
            return self._ready
