"""`pipeline worker`: runs the faust app's agents until SIGTERM or Ctrl-C, then stops cleanly.

A shutdown has a deadline (`PIPELINE_SHUTDOWN_TIMEOUT`): faust's stop waits on Kafka (the last
commit, leaving the group), and with the broker gone it never ends; meanwhile aiokafka's metadata
loop retries without pause and logs every failure (seen: a worker told to stop after its broker
died spun at a full core for half an hour, writing its log, until SIGKILL). At the deadline the
worker logs why and exits at once: at-least-once processing makes that safe, since whatever was not
committed is read again by the next owner of its partitions.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import faust

from pipeline import logs
from pipeline.logs import configure as configure_logging
from pipeline.settings import Settings

log = logging.getLogger(__name__)
EXIT_SHUTDOWN_TIMEOUT = 1


@dataclass
class ShutdownDeadline:
    """Ends the process `seconds` after `arm()`, unless it has ended by itself before."""

    seconds: float
    exit: Callable[[int], None] = os._exit  # no clean shutdown: the clean one is what hung
    _timer: threading.Timer | None = field(default=None, init=False)

    def arm(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True  # a shutdown that finishes in time is not held up
            self._timer.start()

    def _expire(self) -> None:
        log.error(
            "shutdown did not finish within %.0f s (Kafka unreachable?); exiting now: "
            "what was not committed is read again",
            self.seconds,
        )
        logs.flush_handlers()
        self.exit(EXIT_SHUTDOWN_TIMEOUT)


class PipelineWorker(faust.Worker):
    """faust's worker, with a deadline on its shutdown from the first signal or crash on."""

    def __init__(self, app: faust.App, deadline: ShutdownDeadline, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._deadline = deadline
        # No terminal spinner: its cursor codes are noise in a log (faust drops it only when it
        # configures logging itself, which it does not here).
        self.spinner = None

    def _on_sigint(self) -> None:
        self._deadline.arm()
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        self._deadline.arm()
        super()._on_sigterm()

    def on_worker_shutdown(self) -> None:  # also after a crash, before faust's stop
        self._deadline.arm()
        super().on_worker_shutdown()


def run_worker(
    app: faust.App, settings: Settings, exit_code: Callable[[int], int] = lambda code: code
) -> None:
    """Block running `app`; returns (via SystemExit 0) after a clean shutdown on a signal.

    `exit_code` may replace the code of that exit (a worker that stopped itself says why)."""
    deadline = ShutdownDeadline(settings.shutdown_timeout)
    # The process's logging is pipeline.logs' (one format, the log file if any), not faust's.
    configure_logging(settings.log_level, settings.log_file)
    worker = PipelineWorker(
        app, deadline, loglevel=settings.log_level, quiet=True, override_logging=False
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise SystemExit(exit_code(code)) from None
