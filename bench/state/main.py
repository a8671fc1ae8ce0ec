"""`python -m bench state [--keys N] [--warmup N --phases N --events N]`: bounded state.

Two parts, each on topics of its own (a prefix of the session's), written into one
`bench/results/<stamp>-state.json`:

1. The table layer with millions of keys. The bench writes `--keys` unique dedup keys to a topic
   of key batches (`bench/state/feed.py`: as many partitions as `webhooks.raw`, so the table is
   co-partitioned with it as with the real source), a little ahead of the table worker
   (`bench/state/worker.py`: the real faust app, tables, changelog and expiry timer), which writes
   them into the dedup table at the default window and samples its RSS, disk and RocksDB memory
   every `--sample-every` keys. Then recovery: the worker restarted on its intact store must read
   only the changelog's tail; restarted after its data dir's faust folder is deleted, it rebuilds
   the table from the changelog, and the time is given per million keys.
2. The whole pipeline (`bench/state/pipeline.py`): ingress, worker and a subscriber; `--warmup`
   unique events fill the tables' fixed memory (the memtables' share of `PIPELINE_STATE_CACHE_MB`),
   then `--phases` phases of `--events` unique Oktopost webhooks, each delivered in full before
   the worker's RSS is read; the growth per event after the first phase.

The targets (issue 24): RSS grows by less than 50 MiB over 5 million keys once warm, and by less
than 64 bytes per new event in the pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.broker import delete_session_topics, start_broker, stop_broker
from bench.children import Child
from bench.environment import machine, versions
from bench.ladder.report import write_json
from bench.procstat import rss_kib
from bench.stack import pipeline_env, session_settings
from bench.state.feed import create_topic, feed_keys
from bench.state.figures import (
    KEYS_PER_RECORD,
    Recovery,
    recoveries,
    recovery_figures,
    table_figures,
    table_lines,
)
from bench.state.pipeline import pipeline_part
from pipeline.contract.changelogs import TABLE_SOURCES
from pipeline.contract.topics import topic_spec
from pipeline.settings import REPO_ROOT, Settings

RESULTS_DIR = REPO_ROOT / "bench" / "results"
POLL_SECONDS = 0.2


def _log(message: str) -> None:
    print(f"[state {time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa: T201


def _read_samples(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


async def _fill(
    child: Child, progress: Path, keys: int, deadline: float, feeding: asyncio.Future[None]
) -> list[dict[str, Any]]:
    """Run the table worker until its samples reach `keys`; logs each sample as it comes."""
    child.start()
    shown = 0
    while time.monotonic() < deadline:
        if child.exited() is not None:
            raise RuntimeError(f"the table worker exited:\n{child.log_tail()}")
        if feeding.done():
            feeding.result()  # raises what stopped the feed
        samples = _read_samples(progress)
        for sample in samples[shown:]:
            _log(f"{sample['keys']:,} keys: RSS {sample['rss_kib'] / 1024:.1f} MiB")
        shown = len(samples)
        if samples and samples[-1]["keys"] >= keys:
            return samples
        await asyncio.sleep(1.0)
    raise TimeoutError(f"the table worker wrote fewer than {keys:,} keys in time")


async def _recover(child: Child, deadline: float) -> tuple[Recovery, float, float]:
    """Start `child` and wait for its dedup table to recover: (what its log says, seconds from
    the process's start, its RSS in MiB then)."""
    started = time.monotonic()
    child.start()
    while time.monotonic() < deadline:
        if child.exited() is not None:
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
        text = child.log_path.read_text(errors="replace") if child.log_path.exists() else ""
        found = [r for r in recoveries(text) if r.table == "dedup"]
        if found:
            return found[0], time.monotonic() - started, rss_kib(child.pid) / 1024
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"{child.name}: no recovery of the dedup table in time")


async def _restarts(
    argv: list[str], work: Path, env: dict[str, str], settings: Settings, deadline: float
) -> dict[str, tuple[Recovery, float, float]]:
    """The table worker started again on its intact store, then with the store deleted."""
    recovered = {}
    for name in ("intact", "rebuilt"):
        if name == "rebuilt":
            shutil.rmtree(settings.data_dir / "faust")
        child = Child(f"state-worker-{name}", argv, work, env)
        try:
            recovered[name] = await _recover(child, deadline)
        finally:
            await child.stop()
        found, wall, _ = recovered[name]
        _log(f"{name}: {found.records:,} records applied in {found.seconds} s ({wall:.1f} s)")
    return recovered


async def table_part(args: argparse.Namespace, bootstrap: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-state-table-"))
    tag = uuid.uuid4().hex[:6]
    settings = session_settings(bootstrap, work, tag)
    topic = settings.topic("bench.state.keys")
    partitions = topic_spec(settings, TABLE_SOURCES["dedup"]).partitions
    try:
        await create_topic(bootstrap, topic, partitions)
        deadline = time.monotonic() + args.deadline
        env = pipeline_env(settings, {})
        progress = work / "progress.jsonl"
        argv = ["bench.state.worker", topic, str(progress)]
        argv += ["--every", str(args.sample_every), "--total", str(args.keys)]
        argv += ["--tracemalloc", str(args.tracemalloc)]
        filling = Child("state-worker", argv, work, env)
        _log(f"writing {args.keys:,} keys to {topic} as the table worker reads them")
        feeding = asyncio.ensure_future(feed_keys(settings, topic, partitions, tag, args.keys))
        try:
            samples = await _fill(filling, progress, args.keys, deadline, feeding)
        finally:
            feeding.cancel()
            await filling.stop()
        recovery = {
            name: {**recovery_figures(found, args.keys, wall), "rss_mib": round(rss, 1)}
            for name, (found, wall, rss) in (
                await _restarts(argv, work, env, settings, deadline)
            ).items()
        }
        measured = {
            "keys": args.keys,
            "keys_per_record": KEYS_PER_RECORD,
            "window_s": settings.dedup_window,
            "state_cache_mb": settings.state_cache_mb,
            "samples": samples,
            "figures": table_figures(samples, args.warm_keys),
            "recovery": recovery,
        }
    finally:
        await delete_session_topics(bootstrap, f"bench{tag}")
    shutil.rmtree(work, ignore_errors=True)  # kept, with the logs, when the part failed
    return measured


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as cleanup:
        bootstrap = args.bootstrap
        if bootstrap is None:
            kafka = await start_broker(Path(tempfile.mkdtemp(prefix="bench-state-kafka-")))
            cleanup.push_async_callback(stop_broker, kafka)
            bootstrap = kafka.bootstrap
        if args.keys:
            results["table"] = await table_part(args, bootstrap)
        if args.phases:
            _log(
                f"the pipeline: {args.warmup:,} unique events to warm up, then {args.phases} "
                f"phases of {args.events:,}"
            )
            probe = args.tracemalloc if args.probe else None
            results["pipeline"] = await pipeline_part(
                bootstrap, args.phases, args.events, args.deadline, warmup=args.warmup, probe=probe
            )
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench state", description=__doc__)
    parser.add_argument("--keys", type=int, default=5_000_000, help="0: no table part")
    parser.add_argument("--sample-every", type=int, default=250_000, help="keys between samples")
    parser.add_argument("--warm-keys", type=int, default=1_000_000, help="growth counted after")
    parser.add_argument(
        "--tracemalloc", type=int, default=0, help="frames the workers trace (0: off)"
    )
    parser.add_argument(
        "--no-probe",
        dest="probe",
        action="store_false",
        help="run `pipeline worker` bare, without bench/state/probe.py's thread beside it",
    )
    parser.add_argument("--phases", type=int, default=4, help="0: no pipeline part")
    parser.add_argument("--events", type=int, default=8000, help="unique events per phase")
    parser.add_argument(
        "--warmup",
        type=int,
        default=64_000,
        help="unique events before the phases, to fill the tables' fixed memory (0: none)",
    )
    parser.add_argument("--deadline", type=float, default=3600.0, help="seconds for each part")
    parser.add_argument("--bootstrap", help="an existing broker (default: a new one)")
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    measured = asyncio.run(_main(args))
    results = {
        "stamp": stamp,
        "machine": machine(),
        "versions": versions(),
        "command": "python -m bench state " + " ".join(argv),
        "seconds": round(time.monotonic() - started),
        **measured,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{stamp}-state.json"
    write_json(results, path)
    print("\n".join(table_lines(results)))  # noqa: T201 - the command's output
    _log(f"results in {path}")
    return 0
