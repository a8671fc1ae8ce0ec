from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError

from pipeline import logs
from pipeline.logs import RepeatFilter


def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("aiokafka.consumer.fetcher", level, __file__, 1, message, None, None)


def test_repeats_are_folded_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 1.0, 2.0, 3.0, 11.0])
    monkeypatch.setattr("pipeline.logs.time.monotonic", lambda: next(clock))
    folding = RepeatFilter(interval=10.0)
    passed = [folding.filter(r) for r in [record("Unable connect") for _ in range(4)]]
    assert passed == [True, False, False, False]
    summary = record("Unable connect")
    assert folding.filter(summary)
    assert summary.msg == "Unable connect (and 3 more like it in the last 10s)"


def test_other_messages_other_loggers_and_info_lines_pass() -> None:
    folding = RepeatFilter(interval=10.0)
    assert folding.filter(record("one"))
    assert folding.filter(record("two"))
    assert folding.filter(record("one", logging.INFO))
    ours = record("one")
    ours.name = "pipeline.ingress"
    assert folding.filter(ours)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    aiokafka_level = logging.getLogger("aiokafka").level
    yield
    for handler in logs._installed:
        root.removeHandler(handler)
        handler.close()
    logs._installed.clear()
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(aiokafka_level)


@pytest.mark.usefixtures("restore_logging")
def test_with_a_log_file_the_console_shows_warnings_and_the_file_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "logs" / "worker.log"
    logs.configure("INFO", log_file)
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    logging.getLogger("aiokafka.consumer").info("Joined group")
    logging.getLogger("pipeline.config.keyring").warning("PIPELINE_SECRET_KEYS is not set")
    console = capsys.readouterr().err
    assert "Starting..." not in console
    assert "Joined group" not in console
    assert "worker WARNING pipeline.config.keyring: PIPELINE_SECRET_KEYS is not set" in console
    written = log_file.read_text()
    assert "INFO faust.worker: [^Worker]: Starting..." in written
    assert "INFO aiokafka.consumer: Joined group" in written
    assert "WARNING pipeline.config.keyring" in written


@pytest.mark.usefixtures("restore_logging")
def test_debug_brings_every_line_back_to_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("DEBUG", tmp_path / "poller.log")
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    assert "Starting..." in capsys.readouterr().err


@pytest.mark.usefixtures("restore_logging")
def test_without_a_log_file_the_console_keeps_info_but_not_aiokafkas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("INFO")
    logging.getLogger("pipeline.web").info("ingress listening")
    logging.getLogger("aiokafka.consumer").info("Joined group")
    console = capsys.readouterr().err
    assert "INFO pipeline.web: ingress listening" in console
    assert "Joined group" not in console


@pytest.mark.usefixtures("restore_logging")
def test_a_coordinator_not_available_yet_is_info_not_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "poller.log"
    logs.configure("INFO", log_file)
    coordinator = logging.getLogger(logs.COORDINATOR_LOGGER)
    failed = GroupCoordinatorNotAvailableError()
    coordinator.error("Group Coordinator Request failed: %s", failed)
    coordinator.warning("Marking the coordinator dead (node %s)for group %s.", 1, "g")
    coordinator.error("Heartbeat failed: %r", "something else")
    console = capsys.readouterr().err
    assert "Group Coordinator Request failed" not in console
    assert "Marking the coordinator dead" not in console
    assert "ERROR aiokafka.consumer.group_coordinator: Heartbeat failed" in console
    written = log_file.read_text()
    assert "INFO aiokafka.consumer.group_coordinator: Group Coordinator Request failed" in written
    assert "INFO aiokafka.consumer.group_coordinator: Marking the coordinator dead" in written


@pytest.mark.usefixtures("restore_logging")
def test_a_folded_warning_is_folded_alike_on_the_console_and_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "worker.log"
    logs.configure("INFO", log_file)
    for _ in range(3):
        logging.getLogger("aiokafka.conn").warning("Unable connect to node")
    assert capsys.readouterr().err.count("Unable connect to node") == 1
    assert log_file.read_text().count("Unable connect to node") == 1
