"""`pipeline run`: the whole pipeline on one machine, in the foreground.

Starts the local broker (unless one answers already), applies the topic manifest, then runs each
process as a child. Ctrl-C or SIGTERM stops the children, then the broker if this run started it.
A child that exits on its own ends the run the same way, so a crash is never hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pipeline.ops import local_kafka
from pipeline.ops.manifest import load_manifest
from pipeline.ops.topics_apply import Outcome, apply_topics
from pipeline.settings import Settings

STOP_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Plan:
    """What to run: `pipeline` subcommands (name → arguments), their environment, and a step to
    take once they are up (the demo's configuration)."""

    processes: dict[str, list[str]]
    env: dict[str, str] | None = None
    after_start: Callable[[], Awaitable[None]] | None = field(default=None)


def say(message: str) -> None:
    print(f"[pipeline run] {message}", flush=True)  # noqa: T201 - the foreground run talks to a person


async def run_all(settings: Settings, plan: Plan) -> int:
    """Run until a signal or a child's exit; returns the exit code for the shell."""
    kafka = local_kafka.LocalKafka.from_settings(settings)
    started, message = await local_kafka.start(kafka)
    say(message)
    try:
        for report in await apply_topics(settings.kafka_bootstrap, load_manifest(settings)):
            if report.outcome is not Outcome.UNCHANGED:
                say(f"topic {report.line()}")
        host = settings.bind_host
        ports = (settings.ingress_port, settings.worker_web_port, settings.poller_port)
        say("metrics: " + ", ".join(f"http://{host}:{port}/metrics" for port in ports))
        return await _supervise(plan)
    finally:
        if started:
            say(await local_kafka.stop(kafka))


async def _supervise(plan: Plan) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    children = {
        name: await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pipeline", name, *arguments, env=plan.env, start_new_session=True
        )
        for name, arguments in plan.processes.items()
    }
    say("running " + ", ".join(f"{name} (pid {child.pid})" for name, child in children.items()))
    say("press Ctrl-C to stop everything")
    waits = {asyncio.ensure_future(child.wait()): name for name, child in children.items()}
    stopper = asyncio.ensure_future(stop.wait())
    setup = asyncio.ensure_future(plan.after_start()) if plan.after_start else None
    done, _ = await asyncio.wait([stopper, *waits], return_when=asyncio.FIRST_COMPLETED)
    if setup is not None and not setup.done():
        setup.cancel()
    exit_code = 0
    for task in done:
        if task in waits:
            say(f"{waits[task]} exited with code {task.result()}; stopping the rest")
            exit_code = 1
    stopper.cancel()
    await _terminate(children)
    return exit_code


async def _terminate(children: dict[str, asyncio.subprocess.Process]) -> None:
    for child in children.values():
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
    for name, child in children.items():
        try:
            await asyncio.wait_for(child.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            say(f"{name} did not stop within {STOP_GRACE_SECONDS:.0f}s; killing it")
            child.kill()
            await child.wait()
        say(f"{name} stopped")
