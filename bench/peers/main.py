"""`python -m bench peer [--webhooks N] [--repeat K] [--bootstrap HOST:PORT]`: the worker's
normalize+dedup stage against Quix Streams and a bare aiokafka loop, on one backlog.

`webhooks.raw` (N webhooks the pipeline's ingress accepted, `bench/peers/backlog.py`) → each
runner, a process of its own reading the whole backlog from the beginning in its own consumer
group, running the pipeline's own `normalize_webhook` and dropping repeated events → its own
output topic (keyed by subject, acks=all, offsets committed after the acks):

- pipeline: `pipeline worker` itself, no subscription registered (it normalizes, deduplicates and
  routes to nothing), with its own app id and state, writing `events.normalized`;
- quix: `bench/peers/quix.py`, Quix Streams with RocksDB state (the `bench-peer` extra);
- bare: `bench/peers/bare.py`, an aiokafka `getmany` loop with an in-memory set.

Per run (`bench/peers/figures.py`): input records/s from the run's first output record to its last
(broker append times) and CPU-s per 1,000 input records over the same window; a run that did not
write exactly the backlog's distinct events is failed, never a figure. Runners take turns in a
rotated order each repeat; medians over the repeats. Prints one JSON line per run and a table;
writes `bench/results/<stamp>-peer.json`. `make bench` runs it as its last part (`--no-peer`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.broker import start_broker, stop_broker
from bench.children import Child, clean_env
from bench.environment import machine, versions
from bench.ladder.config import RESULTS_DIR
from bench.ladder.report import write_json
from bench.payloads import Mix
from bench.peers.backlog import Backlog, create_output, fill_backlog, stamp_on_append
from bench.peers.figures import RUNNERS, peer_lines, ratios, run_figures, summarize
from bench.peers.measure import Target, observe
from bench.peers.stage import RunnerSpec
from bench.stack import pipeline_env, session_settings
from pipeline.contract.topics import Topic

PAIRS = 4  # Oktopost + Hootsuite instance pairs: 8 keys over `webhooks.raw`'s 4 partitions
DEADLINE = 180.0  # seconds for one runner to write every event
QUIX_MISSING = "quixstreams is not installed (see the bench-peer group in pyproject.toml)"

Log = Callable[[str], None]


def quix_installed() -> bool:
    return importlib.util.find_spec("quixstreams") is not None


def estimated_seconds(webhooks: int, repeat: int) -> float:
    """A generous guess at the part's length on a busy 2-core machine, for a session's budget:
    the ingress's start and POSTs, then per run a start, the drain and the commit wait (twice
    what 6,000 webhooks took in 20261206T021957Z-peer: 11 s of POSTs, runs of 2 to 11 s)."""
    return 30 + webhooks / 200 + repeat * len(RUNNERS) * (25 + webhooks / 500)


def order(repeat: int) -> tuple[str, ...]:
    """Runners in turn, rotated each repeat, so none always runs first (or last)."""
    shift = repeat % len(RUNNERS)
    return RUNNERS[shift:] + RUNNERS[:shift]


async def _target(
    runner: str, backlog: Backlog, work: Path, repeat: int, env: dict[str, str]
) -> Target:
    """The runner's process, unstarted, on fresh state: its own group, output and data dir."""
    settings, directory = backlog.settings, work / f"{runner}-{repeat}"
    directory.mkdir(parents=True)
    if runner == "pipeline":
        app_id = f"{settings.app_id}-peer{repeat}"  # its group, and its tables' changelogs
        child_env = pipeline_env(settings, env)
        child_env |= {"PIPELINE_APP_ID": app_id, "PIPELINE_DATA_DIR": str(directory)}
        child = Child(f"peer-pipeline-{repeat}", ["pipeline", "worker"], work, child_env)
        return Target(runner, child, settings.topic(Topic.EVENTS_NORMALIZED), app_id)
    spec = RunnerSpec(
        bootstrap=settings.kafka_bootstrap,
        source=settings.topic(Topic.WEBHOOKS_RAW),
        output=await create_output(settings, f"peer.{runner}.{repeat}"),
        group=f"{settings.app_id}-peer-{runner}{repeat}",
        topics_dir=str(settings.topics_dir),
        state_dir=str(directory / "state"),
    )
    (directory / "spec.json").write_bytes(spec.to_json())
    argv = [f"bench.peers.{runner}", str(directory / "spec.json")]
    return Target(
        runner, Child(f"peer-{runner}-{repeat}", argv, work, clean_env()), spec.output, spec.group
    )


async def _runs(
    backlog: Backlog, work: Path, *, repeat: int, env: dict[str, str], deadline: float, log: Log
) -> list[dict[str, Any]]:
    runs = []
    source = backlog.settings.topic(Topic.WEBHOOKS_RAW)
    for number in range(repeat):
        for runner in order(number):
            target = await _target(runner, backlog, work, number, env)
            log(f"peer: {runner} (repeat {number + 1} of {repeat})")
            observed = await observe(
                target, backlog.settings.kafka_bootstrap, source, len(backlog.events), deadline
            )
            runs.append(run_figures(runner, number, backlog.records, backlog.events, observed))
            print(json.dumps(runs[-1]), flush=True)  # noqa: T201 - one line per run, as it ends
    return runs


async def run_peer(
    bootstrap: str,
    work: Path,
    *,
    webhooks: int,
    repeat: int,
    env: dict[str, str],
    log: Log,
    mix: Mix | None = None,
    deadline: float = DEADLINE,
) -> dict[str, Any]:
    """Fill the backlog on `bootstrap` (a fresh prefix), then every runner, `repeat` times;
    `work` (an existing, empty dir) gets the processes' logs and state."""
    settings = session_settings(bootstrap, work, f"{uuid.uuid4().hex[:6]}peer")
    log(f"peer: filling the backlog with {webhooks} webhooks through the ingress")
    backlog = await fill_backlog(
        settings, work, env, webhooks=webhooks, pairs=PAIRS, mix=mix or Mix()
    )
    await stamp_on_append(settings)
    log(f"peer: {backlog.records} records, {len(backlog.events)} distinct events")
    runs = await _runs(backlog, work, repeat=repeat, env=env, deadline=deadline, log=log)
    summary = summarize(runs)
    return {
        "webhooks": webhooks,
        "input_records": backlog.records,
        "records_per_partition": list(backlog.partitions),
        "events_expected": len(backlog.events),
        "rejected_webhooks": backlog.rejected,
        "instances": backlog.instances,
        "measured": "records/s: input records / (last output - first output), broker append "
        "times; CPU: the runner's process over the same window, per 1,000 input records",
        "runs": runs,
        "summary": summary,
        "ratios": ratios(summary),
        "quixstreams": metadata.version("quixstreams") if quix_installed() else None,
    }


def _log(message: str) -> None:
    print(f"[bench peer {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)  # noqa: T201


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    env = dict(pair.split("=", 1) for pair in args.env)
    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    (work / "peer").mkdir()
    try:
        async with contextlib.AsyncExitStack() as cleanup:
            bootstrap = args.bootstrap
            if bootstrap is None:
                kafka = await start_broker(work / "kafka")
                cleanup.push_async_callback(stop_broker, kafka)
                bootstrap = kafka.bootstrap
            peer = await run_peer(
                bootstrap,
                work / "peer",
                webhooks=args.webhooks,
                repeat=args.repeat,
                env=env,
                log=_log,
                deadline=args.deadline,
            )
    except BaseException:
        _log(f"failed; logs kept in {work / 'peer'}")
        raise
    failed = sum(not run["ok"] for run in peer["runs"])
    if failed:
        _log(f"{failed} failed run(s); logs kept in {work / 'peer'}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return peer


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench peer", description=__doc__)
    parser.add_argument("--webhooks", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=DEADLINE, help="seconds for one run")
    parser.add_argument("--bootstrap", help="an existing broker (default: a new one)")
    parser.add_argument("--env", action="append", default=[], help="PIPELINE_X=value (worker)")
    args = parser.parse_args(argv)
    if not quix_installed():
        _log(f"cannot run: {QUIX_MISSING}")
        return 2
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    peer = asyncio.run(_main(args))
    results = {"stamp": stamp, "machine": machine(), "versions": versions(), "peer": peer}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{stamp}-peer.json"
    write_json(results, path)
    print("\n".join(peer_lines(peer)))  # noqa: T201 - the command's output
    _log(f"results in {path}")
    return 0
