"""`pipeline worker`: runs the faust app's agents until SIGTERM or Ctrl-C, then stops cleanly."""

from __future__ import annotations

import faust

from pipeline.settings import Settings


def run_worker(app: faust.App, settings: Settings) -> None:
    """Block running `app`; returns (via SystemExit 0) after a clean shutdown on a signal."""
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
