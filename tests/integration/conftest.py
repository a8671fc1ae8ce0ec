"""The running pipeline for integration tests: ingress + worker subprocesses on a prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pipeline.contract.topics import load_manifest
from pipeline.ops.topics_apply import apply_topics
from pipeline.settings import Settings, load_settings
from tests.support import topic_cleanup
from tests.support.processes import ADMIN_TOKEN, Process, free_port, pipeline_env


def stack_settings(kafka_bootstrap: str, directory: Path, **overrides: Any) -> Settings:
    """Settings on topics and an app id of their own, created; deleted when the module ends."""
    prefix = f"m{uuid.uuid4().hex[:10]}."
    values: dict[str, Any] = {
        "kafka_bootstrap": kafka_bootstrap,
        "topic_prefix": prefix,
        "app_id": prefix.rstrip(".") + "-app",
        "data_dir": directory / "data",
        "ingress_port": free_port(),
        "worker_web_port": free_port(),
        "poller_port": free_port(),
        "retry_schedule": "1,2,3",
        "delivery_timeout": "2",
        "allow_private_destinations": True,
        **overrides,
    }
    settings = load_settings(**values)
    topic_cleanup.record(settings.kafka_bootstrap, settings.topic_prefix, settings.app_id)
    asyncio.run(apply_topics(settings.kafka_bootstrap, load_manifest(settings)))
    return settings


@dataclass
class Stack:
    """A running ingress and worker, and what tests need to talk to them."""

    settings: Settings
    directory: Path
    ingress: Process
    worker: Process

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingress_port}"

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def restart_worker(self) -> None:
        assert self.worker.stop() == 0, self.worker.log_tail()
        self.worker = worker_process(self.settings, self.directory).start()

    async def admin(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base_url + path, json=body, headers=headers) as response,
        ):
            text = await response.text()
            return response.status, (await response.json()) if text else None

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.base_url + path, data=body, headers=headers or {}) as response,
        ):
            return response.status, await response.text()


def ingress_process(settings: Settings, directory: Path) -> Process:
    url = f"http://127.0.0.1:{settings.ingress_port}/readyz"
    return Process("ingress", pipeline_env(settings), directory, url)


def worker_process(settings: Settings, directory: Path) -> Process:
    url = f"http://127.0.0.1:{settings.worker_web_port}/readyz"
    return Process("worker", pipeline_env(settings), directory, url)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("stack")
    settings = stack_settings(kafka_bootstrap, directory)
    ingress = ingress_process(settings, directory).start()
    worker = worker_process(settings, directory).start()
    running = Stack(settings, directory, ingress, worker)
    yield running
    running.worker.stop()
    running.ingress.stop()
