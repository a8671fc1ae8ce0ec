"""Shared fixtures: the real local broker (started once if none answers) and per-test isolation."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.ops import local_kafka
from pipeline.settings import Settings, load_settings
from tests.support import topic_cleanup


def pytest_configure(config: pytest.Config) -> None:
    """Give the run an id before xdist starts its workers (it hands them `--testrunuid`)."""
    if not hasattr(config, "workerinput") and getattr(config.option, "testrunuid", None) is None:
        config.option.testrunuid = uuid.uuid4().hex


def _run_id(config: pytest.Config) -> str:
    """One id per `pytest` run, the same in every xdist worker of it."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["testrunuid"])
    return str(config.option.testrunuid)


def _started_marker(kafka: local_kafka.LocalKafka) -> Path:
    return kafka.home / "started-by-test-run"


@pytest.fixture(scope="session")
def kafka_bootstrap(pytestconfig: pytest.Config) -> str:
    """The address of a ready broker, started once per run if none answers (under a file lock,
    as the run's xdist workers may ask together) and stopped at the end of the run only if this
    run started it (`pytest_unconfigure`, in the process that runs last)."""
    kafka = local_kafka.LocalKafka.from_settings(load_settings())
    kafka.home.mkdir(parents=True, exist_ok=True)
    with (kafka.home / "start.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started, message = asyncio.run(local_kafka.start(kafka))
        if started:
            _started_marker(kafka).write_text(_run_id(pytestconfig))
    print(message)  # shown with -s: says whether a broker was reused
    return kafka.bootstrap


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the broker this run started; under xdist, only the controller (it ends last)."""
    if hasattr(config, "workerinput"):
        return
    kafka = local_kafka.LocalKafka.from_settings(load_settings())
    marker = _started_marker(kafka)
    if marker.exists() and marker.read_text() == _run_id(config):
        marker.unlink()
        asyncio.run(local_kafka.stop(kafka))


@pytest.fixture(autouse=True)
def _root_log_handlers() -> Iterator[None]:
    """Put the root logger's handlers back after each test: a handler a test leaves on a stream
    pytest has since closed would fail a later test's log flush (tests share xdist processes)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture(scope="session", autouse=True)
def _delete_session_topics() -> Iterator[None]:
    """Delete, as this process's session ends, the topics recorded outside any module."""
    yield
    topic_cleanup.clean_up(topic_cleanup.recorded())


@pytest.fixture(scope="module", autouse=True)
def _delete_module_topics() -> Iterator[None]:
    """Delete the topics this module's tests and fixtures recorded (`topic_cleanup`), once its
    other fixtures (its stack's processes) have stopped: they set up after this one."""
    before = topic_cleanup.recorded()
    yield
    topic_cleanup.clean_up(topic_cleanup.recorded() - before)


@pytest.fixture
def prefix(kafka_bootstrap: str) -> str:
    """A topic/app-id prefix of this test's own, so tests never see each other's records; its
    topics on the shared broker are deleted when the module ends."""
    own = f"t{uuid.uuid4().hex[:10]}."
    topic_cleanup.record(kafka_bootstrap, own)
    return own


@pytest.fixture
def settings(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> Settings:
    app_id = prefix.rstrip(".") + "-app"
    topic_cleanup.record(kafka_bootstrap, app_id)  # faust's own topics: `<app id>-…`
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=prefix,
        app_id=app_id,
        data_dir=tmp_path / "data",
        retry_schedule="1,2,3",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
