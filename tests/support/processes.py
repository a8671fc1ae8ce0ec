"""Pipeline processes for integration tests: real subprocesses on 127.0.0.1, own prefixes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings

ADMIN_TOKEN = "test-admin-token"  # a fixed token for loopback test processes
# One key ring for every test process: a second worker has a data dir of its own, and a key
# generated there would not open what the ingress sealed.
TEST_SECRET_KEYS = "test:dGVzdC1vbmx5LWtleS1mb3ItbG9vcGJhY2stdGVzdHM="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (all held at once while they are picked), e.g. a broker's
    listener and controller: `port + 1` may belong to another process."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def pipeline_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a `pipeline` subprocess use exactly `settings`."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")},
        "PIPELINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PIPELINE_TOPIC_PREFIX": settings.topic_prefix,
        "PIPELINE_APP_ID": settings.app_id,
        "PIPELINE_DATA_DIR": str(settings.data_dir),
        "PIPELINE_INGRESS_PORT": str(settings.ingress_port),
        "PIPELINE_WORKER_WEB_PORT": str(settings.worker_web_port),
        "PIPELINE_POLLER_PORT": str(settings.poller_port),
        "PIPELINE_RETRY_SCHEDULE": ",".join(str(d) for d in settings.retry_schedule),
        "PIPELINE_DELIVERY_TIMEOUT": str(settings.delivery_timeout),
        "PIPELINE_INGRESS_ACK_TIMEOUT": str(settings.ingress_ack_timeout),
        "PIPELINE_ALLOW_PRIVATE_DESTINATIONS": str(settings.allow_private_destinations).lower(),
        "PIPELINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "PIPELINE_SECRET_KEYS": (
            settings.secret_keys.get_secret_value() if settings.secret_keys else TEST_SECRET_KEYS
        ),
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.update(extra)
    return env


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_for(condition: Callable[[], bool], what: str, seconds: float) -> None:
    """Poll `condition` until true or raise after `seconds` (no fixed sleeps)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {seconds:.0f}s waiting for {what}")


class Process:
    """One `pipeline <command>` subprocess with its log file."""

    def __init__(self, command: str, env: dict[str, str], log_dir: Path, ready_url: str) -> None:
        self.command = command
        self.env = env
        self.ready_url = ready_url
        self.log_path = log_dir / f"{command}-{time.monotonic_ns()}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, ready_within: float = 90.0) -> Process:
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "pipeline", self.command],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.command} exited: {self.log_tail()}")
            return http_status(self.ready_url) == 200

        wait_for(ready, f"{self.command} at {self.ready_url}", ready_within)
        return self

    def stop(self, sig: int = signal.SIGTERM, within: float = 60.0) -> int:
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
