"""pipeline.runtime.worker: the shutdown deadline ends the process once, and only once armed."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from pipeline.runtime.app import create_app
from pipeline.runtime.worker import EXIT_SHUTDOWN_TIMEOUT, PipelineWorker, ShutdownDeadline
from pipeline.settings import load_settings


def test_an_armed_deadline_exits_once_after_its_seconds() -> None:
    exited = threading.Event()
    codes: list[int] = []

    def exit_(code: int) -> None:
        codes.append(code)
        exited.set()

    deadline = ShutdownDeadline(0.05, exit=exit_)
    deadline.arm()
    deadline.arm()  # a second signal does not start a second clock
    assert exited.wait(timeout=5)
    assert codes == [EXIT_SHUTDOWN_TIMEOUT]


def test_a_deadline_never_armed_never_exits() -> None:
    codes: list[int] = []
    ShutdownDeadline(0.01, exit=codes.append)
    assert not threading.Event().wait(timeout=0.1)
    assert codes == []


class Recorded:
    def __init__(self) -> None:
        self.armed = 0

    def arm(self) -> None:
        self.armed += 1


def test_a_signal_or_the_end_of_the_run_arms_the_deadline(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, app_id="worker-test"))
    deadline = Recorded()
    worker = PipelineWorker(app, deadline, quiet=True)  # type: ignore[arg-type]  # a recorder
    stopping: list[int] = []
    worker._schedule_shutdown = stopping.append  # type: ignore[method-assign]  # faust's stop
    worker._on_sigterm()
    worker._on_sigint()
    worker.on_worker_shutdown()
    assert deadline.armed == 3
    assert stopping == [signal.SIGTERM, signal.SIGINT]
