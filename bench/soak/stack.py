"""The soak's processes and configuration: its own broker, `pipeline ingress`, one or two
`pipeline worker`s (one app id), `pipeline poller`, the subscriber, the Hootsuite simulator; and
what a user would register through the admin API.

Nothing is shared with other work on the machine: a broker on free ports with its storage in the
session's temp dir (`bench.broker.start_broker`), its own topic prefix, app id, ports and data dirs
(each worker has its own rocksdb dir). Two subscriptions, keyed to different partitions of
`deliveries`, split the delivery work when two workers run: Oktopost's events, and Hootsuite's
(webhooks and polls); each calls the subscriber on a port of its own.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiokafka.partitioner import murmur2

from bench.broker import create_topics, start_broker, stop_broker
from bench.children import Child, free_port
from bench.payloads import Instances
from bench.soak.answers import SubscriberLog
from bench.soak.config import SoakConfig
from bench.soak.polls import CLIENT_ID, CLIENT_SECRET, PollSource
from bench.stack import pipeline_env, session_settings
from pipeline.delivery.signing import webhook_id
from pipeline.ops.local_kafka import LocalKafka
from pipeline.settings import Settings

WORKERS = ("worker-1", "worker-2")
PIPELINE_COMMANDS = {"ingress": "ingress", "poller": "poller", **dict.fromkeys(WORKERS, "worker")}
READY_WITHIN = 120.0
PARTITIONS = 4  # of `deliveries` (topics/manifest.toml)
SUBSCRIPTIONS = 2  # Oktopost's events; Hootsuite's (webhooks and polls)


@dataclass(frozen=True)
class Routes:
    """The registered instances and which subscription receives each instance's events."""

    instances: Instances
    polling_id: str
    subscription_of: dict[str, str]  # instance id → subscription id

    def webhook_id(self, instance_id: str, event_id: str) -> str:
        """As the route agent computes it (`pipeline.delivery.tasks.new_task`)."""
        subscription = self.subscription_of[instance_id]
        return webhook_id(subscription, f"/instances/{instance_id}", event_id)


@dataclass
class SoakStack:
    config: SoakConfig
    settings: Settings
    work: Path
    kafka: LocalKafka
    polls: PollSource
    subscriber: SubscriberLog
    envs: dict[str, dict[str, str]] = field(default_factory=dict)  # process name → environment
    ready_urls: dict[str, str] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)  # the running ones
    routes: Routes | None = None

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingress_port}"

    @property
    def workers(self) -> list[str]:
        return [name for name in WORKERS if name in self.children]

    def child_for(self, name: str) -> Child:
        """A new (not started) process `name` with its own environment and log."""
        return Child(name, ["pipeline", PIPELINE_COMMANDS[name]], self.logs, self.envs[name])

    async def launch(self, name: str) -> Child:
        """Start `name` and wait until it answers `/readyz`; raises if it does not."""
        child = self.child_for(name).start()
        self.children[name] = child
        await child.ready(self.ready_urls[name], within=READY_WITHIN)
        return child

    async def set_workers(self, count: int) -> None:
        for name in WORKERS[:count]:
            if name not in self.children:
                await self.launch(name)
        for name in WORKERS[count:]:
            if name in self.children:
                await self.children.pop(name).stop()

    async def ensure_running(self) -> list[str]:
        """Restart any pipeline process that exited on its own (a crash, or the worker's stall
        watchdog), as `pipeline run` or a deployment's restart policy would; what was restarted."""
        restarted = []
        for name, child in list(self.children.items()):
            code = child.exited()
            if name in PIPELINE_COMMANDS and code is not None:
                restarted.append(f"{name} (exit {code})")
                await self.launch(name)
        return restarted

    async def stop(self) -> None:
        for child in list(self.children.values()):
            await child.stop()
        self.children.clear()


def _environments(config: SoakConfig, settings: Settings, work: Path) -> dict[str, dict[str, str]]:
    extra = {
        "PIPELINE_RETRY_SCHEDULE": config.retry_schedule,
        "PIPELINE_DELIVERY_TIMEOUT": str(config.delivery_timeout),
        "PIPELINE_DELIVERY_CONCURRENCY": str(config.delivery_concurrency),
        "PIPELINE_DELIVERY_CONCURRENCY_PER_SUBSCRIPTION": str(config.per_subscription),
        **config.env,
    }
    base = pipeline_env(settings, extra)
    second = {
        "PIPELINE_WORKER_WEB_PORT": str(free_port()),
        "PIPELINE_DATA_DIR": str(work / "data-worker-2"),
    }
    return {"ingress": base, "poller": base, "worker-1": base, "worker-2": {**base, **second}}


def _ready_urls(envs: dict[str, dict[str, str]]) -> dict[str, str]:
    port = {
        "ingress": "PIPELINE_INGRESS_PORT",
        "poller": "PIPELINE_POLLER_PORT",
        **dict.fromkeys(WORKERS, "PIPELINE_WORKER_WEB_PORT"),
    }
    return {name: f"http://127.0.0.1:{envs[name][port[name]]}/readyz" for name in envs}


async def start_stack(
    config: SoakConfig, work: Path, cleanup: contextlib.AsyncExitStack
) -> SoakStack:
    kafka = await start_broker(work / "kafka")
    cleanup.push_async_callback(stop_broker, kafka)
    tag = uuid.uuid4().hex[:6]
    settings = session_settings(
        kafka.bootstrap,
        work,
        tag,
        topic_prefix=f"soak{tag}.",
        app_id=f"soak{tag}-app",
        retry_schedule=config.retry_schedule,
        delivery_timeout=config.delivery_timeout,
    )
    await create_topics(settings)
    polls = await PollSource().start()
    cleanup.push_async_callback(polls.stop)
    subscriber = await _start_subscriber(config, work / "logs", cleanup)
    stack = SoakStack(config, settings, work, kafka, polls, subscriber)
    stack.envs = _environments(config, settings, work)
    stack.ready_urls = _ready_urls(stack.envs)
    cleanup.push_async_callback(stack.stop)
    for name in ("ingress", "worker-1", "poller"):
        await stack.launch(name)
    stack.routes = await register(stack)
    return stack


async def _start_subscriber(
    config: SoakConfig, logs: Path, cleanup: contextlib.AsyncExitStack
) -> SubscriberLog:
    ports = [free_port() for _ in range(SUBSCRIPTIONS)]
    spec = {
        "ports": ports,
        "seed": config.seed,
        "slow_share": config.subscriber.slow_share,
        "slow_seconds": list(config.subscriber.slow_seconds),
        "fail_share": config.subscriber.fail_share,
    }
    child = Child("subscriber", ["bench.soak.subscriber", orjson.dumps(spec).decode()], logs)
    child.start()
    cleanup.push_async_callback(child.stop)
    log = SubscriberLog(ports)
    await child.ready(f"{log.base_url}/healthz", within=30.0)
    return log


async def _post(stack: SoakStack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    token = stack.settings.admin_token.get_secret_value() if stack.settings.admin_token else ""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.post(stack.base_url + path, json=body) as response,
    ):
        answer: dict[str, Any] = await response.json()
        if response.status != 201:
            raise RuntimeError(f"POST {path} answered {response.status}: {answer}")
        return answer


def spread_ids(stem: str, count: int) -> list[str]:
    """`count` subscription ids whose keys fall on different partitions of `deliveries`."""
    chosen: list[str] = []
    taken: set[int] = set()
    for number in range(256):
        candidate = f"{stem}-{number}"
        partition = (murmur2(candidate.encode()) & 0x7FFFFFFF) % PARTITIONS
        if partition not in taken:
            chosen.append(candidate)
            taken.add(partition)
        if len(chosen) == count:
            break
    return chosen


async def register(stack: SoakStack) -> Routes:
    """The instances and subscriptions, through the admin API as an operator would."""
    suffix = uuid.uuid4().hex[:6]
    oktopost_secret = secrets.token_hex(32)  # Oktopost issues it; the user pastes it in
    oktopost = await _post(
        stack,
        "/v1/instances",
        {"provider": "oktopost", "id": f"okto-{suffix}", "signing_secret": oktopost_secret},
    )
    hootsuite = await _post(
        stack, "/v1/instances", {"provider": "hootsuite", "id": f"hoot-{suffix}"}
    )
    polling = {"enabled": True, "interval_seconds": 1, "api_base_url": stack.polls.url}
    polled = await _post(
        stack,
        "/v1/instances",
        {
            "provider": "hootsuite",
            "id": f"poll-{suffix}",
            "polling": polling,
            "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        },
    )
    okto_sub, hoot_sub = spread_ids(f"soak-{suffix}", SUBSCRIPTIONS)
    groups = {okto_sub: [oktopost["id"]], hoot_sub: [hootsuite["id"], polled["id"]]}
    for number, (subscription, instance_ids) in enumerate(groups.items()):
        body = {
            "id": subscription,
            "name": subscription,
            "url": stack.subscriber.hook_url(number),
            "event_types": ["*"],
            "instance_ids": instance_ids,
        }
        await _post(stack, "/v1/subscriptions", body)
    instances = Instances(
        oktopost_id=oktopost["id"],
        oktopost_path=urlsplit(str(oktopost["webhook_url"])).path,
        oktopost_secret=oktopost_secret,
        hootsuite_id=hootsuite["id"],
        hootsuite_path=urlsplit(str(hootsuite["webhook_url"])).path,
    )
    subscription_of = {i: s for s, ids in groups.items() for i in ids}
    return Routes(instances, str(polled["id"]), subscription_of)
