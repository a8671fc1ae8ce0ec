"""Shared fixtures: the real local broker (started once if none answers) and per-test isolation."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.ops import local_kafka
from pipeline.settings import Settings, load_settings


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The address of a ready broker; stopped at the end only if this session started it."""
    kafka = local_kafka.LocalKafka.from_settings(load_settings())
    started, message = asyncio.run(local_kafka.start(kafka))
    print(message)  # shown with -s: says whether a broker was reused
    yield kafka.bootstrap
    if started:
        asyncio.run(local_kafka.stop(kafka))


@pytest.fixture
def prefix() -> str:
    """A topic/app-id prefix of this test's own, so tests never see each other's records."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> Settings:
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=prefix,
        app_id=prefix.rstrip(".") + "-app",
        data_dir=tmp_path / "data",
        retry_schedule="1,2,3",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
