"""`pipeline run --demo` (as `make run`): broker, topics, processes, demo; Ctrl-C stops all."""

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

from pipeline.config.instances import instance_key
from pipeline.demo.setup import DEMO_OKTOPOST_SECRET
from tests.support.payloads import hex_hmac, oktopost_body
from tests.support.processes import free_ports

pytestmark = pytest.mark.integration


_PROCESSES = ("INGRESS", "WORKER_WEB", "POLLER", "DEMO_SIMULATOR", "DEMO_RECEIVER")


def _free_ports() -> tuple[int, dict[str, int]]:
    """The broker's port p (its controller takes p + 1, which `pipeline run` derives) and one port
    per process, all distinct and none of them p + 1: ports picked one after another are often
    neighbours, and a process on p + 1 made the broker fail to bind."""
    for _ in range(50):
        kafka, *others = free_ports(1 + len(_PROCESSES))
        if kafka + 1 in others or kafka >= 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", kafka + 1))
            except OSError:
                continue
        return kafka, dict(zip(_PROCESSES, others, strict=True))
    pytest.fail("no free set of ports")


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


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL
        status: int = response.status
        return status


def test_make_runs_demo_end_to_end_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """`make run`: own broker, all processes, the demo; a polled and a pushed event arrive."""
    kafka_port, ports = _free_ports()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")},
        "PIPELINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "PIPELINE_DATA_DIR": str(tmp_path),
        **{f"PIPELINE_{name}_PORT": str(port) for name, port in ports.items()},
    }
    output = tmp_path / "run.out"
    with output.open("w") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", "--demo"],
            env=env,
            stdout=out,
            stderr=out,
            text=True,
        )
    try:
        _wait(lambda: "demo ready" in output.read_text(), "the demo setup", 120, run)
        assert "topics created: webhooks.raw, " in output.read_text()
        assert f"http://127.0.0.1:{ports['WORKER_WEB']}/metrics" in output.read_text()
        polled = "[signature ok]: post.scheduled"
        _wait(lambda: polled in output.read_text(), "a polled event at the receiver", 90, run)

        body = oktopost_body("postSent")
        headers = {"X-Oktopost-Signature": hex_hmac(DEMO_OKTOPOST_SECRET, body)}
        url = f"http://127.0.0.1:{ports['INGRESS']}/v1/webhooks/oktopost/{instance_key('demo-oktopost')}"
        assert _post(url, body, headers) == 202
        pushed = "[signature ok]: post.sent posts/0PS1 from /instances/demo-oktopost"
        _wait(lambda: pushed in output.read_text(), "the pushed event at the receiver", 60, run)

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
    for name in ("ingress", "worker", "poller", "simulator", "receiver"):
        assert f"{name} stopped" in text
        assert f"{name} started (pid " in text
    lines = text.splitlines()
    first = next(n for n, line in enumerate(lines, 1) if "[signature ok]" in line)
    assert first <= 30, "the first demo delivery scrolls away"
    assert "Starting..." not in text  # faust's service lines are in the worker's log file
    assert "[^-PipelineApp]: Starting..." in (tmp_path / "logs" / "worker.log").read_text()
    assert text.count("PIPELINE_SECRET_KEYS is not set") == 1
    assert " ERROR " not in text
    assert "BAD SIGNATURE" not in text
    assert "stopped" in text.splitlines()[-1]
    assert not _listening(kafka_port)
    for port in ports.values():
        assert not _listening(port)
