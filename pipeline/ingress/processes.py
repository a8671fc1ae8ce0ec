"""`PIPELINE_INGRESS_PROCESSES=N`: N ingress processes on one port (SO_REUSEPORT).

The `pipeline ingress` process then serves nothing itself: it starts N members (`pipeline ingress
--member-of <its pid>`), each a whole ingress following the configuration topics on its own,
restarts a member that exits (after 1, 2, 4 … s, at most 30 s apart), and stops them all on SIGINT
or SIGTERM. The kernel spreads connections among the members. A member dies with its parent
(PR_SET_PDEATHSIG), so a SIGKILLed parent leaves no process holding the port.

Metrics: the members count in prometheus_client's multiprocess mode (one file per process in a
directory the parent owns), and any member's `/metrics` reports the sum over all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import sys
import tempfile

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from pipeline.settings import Settings

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 15.0
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0  # a member that ran this long restarts after 1 s again
PR_SET_PDEATHSIG = 1


def render_all_members() -> tuple[bytes, str]:
    """The metrics of every member, counters and histograms summed (`/metrics` of a member)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # the module is unannotated
    return generate_latest(registry), CONTENT_TYPE_LATEST


def die_with_parent(parent: int) -> bool:
    """Ask the kernel for SIGTERM when the parent exits; False if it is gone already."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    return os.getppid() == parent


async def run_members(settings: Settings) -> int:
    """Run `settings.ingress_processes` members until a signal; the exit code for the shell."""
    directory = tempfile.mkdtemp(prefix="pipeline-ingress-metrics-")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    members = [_Member(number, env) for number in range(settings.ingress_processes)]
    try:
        for member in members:
            await member.start()
        pids = ", ".join(str(member.pid) for member in members)
        log.info(
            "ingress: %d processes on port %d (pids %s)", len(members), settings.ingress_port, pids
        )
        await asyncio.gather(*(member.keep_running(stop) for member in members))
    finally:
        await asyncio.gather(*(member.stop() for member in members))
        shutil.rmtree(directory, ignore_errors=True)
    return 0


class _Member:
    def __init__(self, number: int, env: dict[str, str]) -> None:
        self.number = number
        self._env = env
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pipeline", "ingress", "--member-of", str(os.getpid()),
            env=self._env,
        )  # fmt: skip

    async def keep_running(self, stop: asyncio.Event) -> None:
        loop, failures = asyncio.get_running_loop(), 0
        while not stop.is_set():
            assert self._process is not None  # noqa: S101 - started before
            started = loop.time()
            exited = asyncio.ensure_future(self._process.wait())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if stop.is_set():
                exited.cancel()
                return
            failures = 0 if loop.time() - started >= STABLE_SECONDS else failures
            delay = min(RESTART_MAX_SECONDS, RESTART_FIRST_SECONDS * 2**failures)
            failures += 1
            log.warning(
                "ingress process %d (pid %s) exited with code %s; restarting it in %.0f s",
                self.number, self.pid, exited.result(), delay,
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if not stop.is_set():
                await self.start()

    async def stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("ingress process %d did not stop in time; killing it", self.number)
            process.kill()
            await process.wait()
