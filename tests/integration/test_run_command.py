"""`pipeline run` (as `make run`): broker, topics and processes up; Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.integration


def _free_pair() -> int:
    """A port p such that p and p + 1 (the controller) are both free."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port + 1)) != 0 and port < 65535:
                return port
    pytest.fail("no free pair of ports")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
            status: int = response.status
            return status
    except OSError:
        return None


def _wait(condition: object, what: str, seconds: float, run: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert run.poll() is None, f"`pipeline run` exited early while waiting for {what}"
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_run_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    kafka_port, web_port = _free_pair(), free_port()
    env = {
        **os.environ,
        "PIPELINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "PIPELINE_DATA_DIR": str(tmp_path),
        "PIPELINE_WORKER_WEB_PORT": str(web_port),
    }
    output = tmp_path / "run.out"
    with output.open("w") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run"], env=env, stdout=out, stderr=out, text=True
        )
    try:
        ready = f"http://127.0.0.1:{web_port}/readyz"
        _wait(lambda: _status(ready) == 200, "the worker's /readyz", 120, run)
        assert "webhooks.raw: created" in output.read_text()

        again = subprocess.run(
            [sys.executable, "-m", "pipeline", "kafka", "start"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == 0
        assert "already running" in again.stdout

        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=90) == 0
    finally:
        if run.poll() is None:
            run.kill()
            subprocess.run(
                [sys.executable, "-m", "pipeline", "kafka", "stop"], env=env, check=False
            )
    text = output.read_text()
    assert "worker stopped" in text
    assert "Kafka (pid" in text
    assert "stopped" in text.splitlines()[-1]
    assert not _listening(kafka_port)
    assert not _listening(web_port)
