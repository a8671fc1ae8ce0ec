"""`pipeline run`: the whole pipeline on one machine, in the foreground.

Starts the local broker (unless one answers already), applies the topic manifest, then runs each
process as a child. Ctrl-C or SIGTERM stops the children, then the broker if this run started it.
A child that exits on its own (a crash, or the worker's stall watchdog) is said on the terminal
and restarted with a growing backoff, as an orchestrator's restart policy would.

The terminal is for a person: one line per process started or stopped, warnings and errors, the
demo's deliveries. Each child logs everything else to `PIPELINE_DATA_DIR/logs/<process>.log`
(`pipeline.logs`), and gets the key ring this run resolved, so that a generated key is warned
about once, not by every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.keyring import KEY_FILE, key_ring_for
from pipeline.contract.changelogs import changelog_specs
from pipeline.contract.topics import load_manifest
from pipeline.ops import local_kafka
from pipeline.ops.topics_apply import Outcome, apply_topics
from pipeline.settings import Settings

STOP_GRACE_SECONDS = 30.0
RESTART_FIRST_SECONDS = 1.0  # a child that exits is restarted after 1, 2, 4 … seconds,
RESTART_MAX_SECONDS = 30.0  # at most this long apart,
STABLE_SECONDS = 60.0  # and the backoff starts again from 1 s once it ran this long


@dataclass(frozen=True)
class Plan:
    """What to run: `pipeline` subcommands (name → arguments), their environment, and a step to
    take once they are up (the demo's configuration)."""

    processes: dict[str, list[str]]
    env: dict[str, str] | None = None
    after_start: Callable[[], Awaitable[None]] | None = field(default=None)
    program: tuple[str, ...] = (sys.executable, "-m", "pipeline")  # what runs a subcommand
    log_dir: Path | None = None  # each child logs to <log_dir>/<name>.log, the console is quiet


def say(message: str) -> None:
    print(f"[pipeline run] {message}", flush=True)  # noqa: T201 - the foreground run talks to a person


async def run_all(settings: Settings, plan: Plan) -> int:
    """Run until a signal; returns the exit code for the shell."""
    kafka = local_kafka.LocalKafka.from_settings(settings)
    started, message = await local_kafka.start(kafka)
    say(message)
    try:
        specs = load_manifest(settings) + changelog_specs(settings)
        created = []
        for report in await apply_topics(settings.kafka_bootstrap, specs):
            if report.outcome is Outcome.CREATED:
                created.append(report.name)
            elif report.outcome is not Outcome.UNCHANGED:
                say(f"topic {report.line()}")
        if created:
            say(f"topics created: {', '.join(created)}")
        host = settings.bind_host
        ports = (settings.ingress_port, settings.worker_web_port, settings.poller_port)
        say("metrics: " + ", ".join(f"http://{host}:{port}/metrics" for port in ports))
        return await _supervise(_for_children(settings, plan))
    finally:
        if started:
            say(await local_kafka.stop(kafka))


def _for_children(settings: Settings, plan: Plan) -> Plan:
    """The plan with the children's log files and, unless one is configured, the key ring."""
    env = dict(os.environ if plan.env is None else plan.env)
    if settings.secret_keys is None:
        key_ring_for(settings)  # generates the data dir's key if need be, and warns once
        env["PIPELINE_SECRET_KEYS"] = (settings.data_dir / KEY_FILE).read_text().strip()
    return dataclasses.replace(plan, env=env, log_dir=settings.data_dir / "logs")


async def _supervise(plan: Plan) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    children = {}
    for name in plan.processes:
        children[name] = await _spawn(plan, name)
        say(f"{name} started (pid {children[name].pid}){_log_note(plan, name)}")
    say("press Ctrl-C to stop everything")
    setup = asyncio.ensure_future(plan.after_start()) if plan.after_start else None
    try:
        await _keep_running(plan, children, stop)
    finally:
        if setup is not None and not setup.done():
            setup.cancel()
        await _terminate(children)
    return 0


async def _spawn(plan: Plan, name: str) -> asyncio.subprocess.Process:
    env = plan.env
    if plan.log_dir is not None:
        log_file = plan.log_dir / f"{name}.log"
        env = {**(os.environ if env is None else env), "PIPELINE_LOG_FILE": str(log_file)}
    return await asyncio.create_subprocess_exec(
        *plan.program, name, *plan.processes[name], env=env, start_new_session=True
    )


def _log_note(plan: Plan, name: str) -> str:
    if plan.log_dir is None:
        return ""
    path = plan.log_dir / f"{name}.log"
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd())
    return f", log {path}"


async def _keep_running(
    plan: Plan, children: dict[str, asyncio.subprocess.Process], stop: asyncio.Event
) -> None:
    """Restart each child that exits, after a backoff that grows while it keeps failing fast,
    until `stop` is set. A crash is said on the terminal, never hidden, and never ends the run."""
    failures = dict.fromkeys(children, 0)
    started = dict.fromkeys(children, loop_time())
    stopper = asyncio.ensure_future(stop.wait())
    waits = {asyncio.ensure_future(child.wait()): name for name, child in children.items()}
    try:
        while not stop.is_set():
            done, _ = await asyncio.wait([stopper, *waits], return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopper}:
                name = waits.pop(task)
                if loop_time() - started[name] >= STABLE_SECONDS:
                    failures[name] = 0
                delay = min(RESTART_MAX_SECONDS, RESTART_FIRST_SECONDS * 2 ** failures[name])
                failures[name] += 1
                say(f"{name} exited with code {task.result()}; restarting it in {delay:.0f}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    break
                children[name] = await _spawn(plan, name)
                started[name] = loop_time()
                waits[asyncio.ensure_future(children[name].wait())] = name
                say(f"{name} restarted (pid {children[name].pid})")
    finally:
        stopper.cancel()
        for task in waits:
            task.cancel()


def loop_time() -> float:
    return asyncio.get_running_loop().time()


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
