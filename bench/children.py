"""Child processes of a bench session: started with a log file, awaited by URL, stopped by pid."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from pipeline.settings import REPO_ROOT


def free_port(*, pair: bool = False) -> int:
    """A free port on 127.0.0.1; with `pair`, port + 1 is free too (a broker's controller)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not pair or _bindable(port + 1):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without `PIPELINE_*`, plus `extra` and the repo on the Python path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


class Child:
    """One `python -m <module> <args…>` subprocess whose output goes to `<log_dir>/<name>.log`."""

    def __init__(
        self, name: str, argv: list[str], log_dir: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = [sys.executable, "-m", *argv]
        self.log_path = log_dir / f"{name}.log"
        self.env = dict(env) if env is not None else clean_env()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.popen.pid

    def start(self) -> Child:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                self.argv,
                env=self.env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    async def ready(self, url: str, within: float = 120.0) -> Child:
        """Poll `url` until it answers 200; fail early (with the log's tail) if the child exits."""
        deadline = time.monotonic() + within
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while time.monotonic() < deadline:
                if self.exited() is not None:
                    raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return self
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready at {url} within {within:.0f}s")

    async def wait(self, within: float) -> int:
        """Wait for the child to exit by itself; kill it after `within` seconds."""
        deadline = time.monotonic() + within
        while (code := self.exited()) is None:
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"{self.name} still running after {within:.0f}s; killed")
            await asyncio.sleep(0.1)
        return code

    async def stop(self, within: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `within` seconds."""
        if self.popen is None or self.exited() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within
        while self.exited() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        self.kill()

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
