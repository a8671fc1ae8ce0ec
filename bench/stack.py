"""The pipeline as a user runs it: `python -m pipeline ingress` and `python -m pipeline worker`.

Each session has its own topic prefix, app id, data dir and ports (PIPELINE_* per process), and
registers through the admin API what a user would: an Oktopost instance with the signing secret
Oktopost issued, a Hootsuite instance, and one subscription to both pointing at the receiver;
or (`register_instances`, `subscribe`) instances and subscriptions with ids the caller chose.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.children import Child, clean_env, free_port
from bench.payloads import Instances
from pipeline.config.keyring import new_key_entry
from pipeline.settings import Settings, load_settings


def session_settings(bootstrap: str, directory: Path, tag: str, **overrides: Any) -> Settings:
    """Settings no other process on this machine shares: prefix, app id, ports, data dir."""
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": f"bench{tag}.",
        "app_id": f"bench{tag}-app",
        "data_dir": directory / "data",
        "ingress_port": free_port(),
        "worker_web_port": free_port(),
        "poller_port": free_port(),
        "admin_token": secrets.token_urlsafe(24),
        # One ring for every process: a second worker's data dir would generate another key.
        "secret_keys": new_key_entry("bench"),
        "allow_private_destinations": True,  # the receiver is on 127.0.0.1
        **overrides,
    }
    return load_settings(**values)


def pipeline_env(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    return clean_env(
        PIPELINE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        PIPELINE_TOPIC_PREFIX=settings.topic_prefix,
        PIPELINE_APP_ID=settings.app_id,
        PIPELINE_DATA_DIR=str(settings.data_dir),
        PIPELINE_INGRESS_PORT=str(settings.ingress_port),
        PIPELINE_WORKER_WEB_PORT=str(settings.worker_web_port),
        PIPELINE_POLLER_PORT=str(settings.poller_port),
        PIPELINE_ADMIN_TOKEN=token,
        PIPELINE_SECRET_KEYS=settings.secret_keys.get_secret_value()
        if settings.secret_keys
        else "",
        PIPELINE_ALLOW_PRIVATE_DESTINATIONS="true",
        **extra,
    )


def worker_envs(settings: Settings, extra: dict[str, str], count: int) -> list[dict[str, str]]:
    """The environments of `count` workers of the session's app (one consumer group): the first
    is the session's; each other has a web port and a data dir (rocksdb locks it) of its own."""
    base = pipeline_env(settings, extra)
    others = [
        {
            **base,
            "PIPELINE_WORKER_WEB_PORT": str(free_port()),
            "PIPELINE_DATA_DIR": str(settings.data_dir.with_name(f"data-worker-{number}")),
        }
        for number in range(2, count + 1)
    ]
    return [base, *others]


@dataclass
class Stack:
    """The running ingress and worker (None in an ingress-only session)."""

    settings: Settings
    ingress: Child
    worker: Child | None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingress_port}"

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        await self.ingress.stop()


async def start_stack(
    settings: Settings,
    logs: Path,
    extra_env: dict[str, str],
    *,
    worker: bool = True,
    worker_argv: tuple[str, ...] = ("pipeline", "worker"),
) -> Stack:
    """`worker_argv`: the worker's `python -m` arguments (a bench's probe wrapping it)."""
    env = pipeline_env(settings, extra_env)
    ingress = Child("ingress", ["pipeline", "ingress"], logs, env).start()
    started = Child("worker", list(worker_argv), logs, env).start() if worker else None
    stack = Stack(settings, ingress, started)
    try:
        await ingress.ready(f"http://127.0.0.1:{settings.ingress_port}/readyz")
        if started is not None:
            await started.ready(f"http://127.0.0.1:{settings.worker_web_port}/readyz")
    except (RuntimeError, TimeoutError):
        await stack.stop()
        raise
    return stack


async def admin(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to the admin API as an operator would; raises unless it answers 201."""
    token = stack.settings.admin_token.get_secret_value() if stack.settings.admin_token else ""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(stack.base_url + path, json=body, headers=headers) as response,
    ):
        answer: dict[str, Any] = await response.json()
        if response.status != 201:
            raise RuntimeError(f"POST {path} answered {response.status}: {answer}")
        return answer


async def register(stack: Stack, receiver_url: str) -> tuple[Instances, str]:
    """Create both instances and the subscription; (the instances, the subscription's secret)."""
    suffix = uuid.uuid4().hex[:8]
    instances = await register_instances(stack, f"okto-{suffix}", f"hoot-{suffix}")
    subscription = await admin(
        stack,
        "/v1/subscriptions",
        {
            "name": "bench",
            "url": receiver_url,
            "event_types": ["*"],
            "instance_ids": [instances.oktopost_id, instances.hootsuite_id],
        },
    )
    return instances, str(subscription["secret"])


def _path_of(instance: dict[str, Any]) -> str:
    """The path of the instance's webhook URL, as the admin API returns it (nobody computes it)."""
    return urlsplit(str(instance["webhook_url"])).path


async def register_instances(stack: Stack, oktopost_id: str, hootsuite_id: str) -> Instances:
    """An Oktopost and a Hootsuite instance with these ids (`register` picks its own ids)."""
    oktopost_secret = secrets.token_hex(32)  # Oktopost issues it; the user pastes it in
    oktopost = await admin(
        stack,
        "/v1/instances",
        {"provider": "oktopost", "id": oktopost_id, "signing_secret": oktopost_secret},
    )
    hootsuite = await admin(stack, "/v1/instances", {"provider": "hootsuite", "id": hootsuite_id})
    return Instances(
        oktopost_id=oktopost["id"],
        oktopost_path=_path_of(oktopost),
        oktopost_secret=oktopost_secret,
        hootsuite_id=hootsuite["id"],
        hootsuite_path=_path_of(hootsuite),
    )


async def subscribe(
    stack: Stack, receiver_url: str, subscription_id: str, instance_ids: list[str], secret: str
) -> None:
    """A subscription to every event of `instance_ids`, signed with `secret` (`whsec_…`, the
    integrator's own): several subscriptions can share one receiver, which checks one secret."""
    body = {
        "id": subscription_id,
        "name": subscription_id,
        "url": receiver_url,
        "event_types": ["*"],
        "instance_ids": instance_ids,
        "secret": secret,
    }
    await admin(stack, "/v1/subscriptions", body)
