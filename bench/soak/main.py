"""`python -m bench soak [--rounds 20] [--seed S] …` (`make soak`): a fault-injection run.

Flow of a session: its own broker, topics, ingress, worker, poller, subscriber and Hootsuite
simulator (`soak_stack`); then per round (`soak_round`) a warm-up, open-loop webhooks with resends
plus polled messages, one SIGKILL and restart at a random moment (`soak_faults`), a drain
(`soak_drain`), and the accounting of every accepted event from the topics (`soak_accounting`);
finally a recheck of what was still undelivered. The same `--seed` repeats the kill moments, the
targets and the subscriber's answers (the machine's timing still varies).

Writes `bench/results/<stamp>-soak.json`, prints the table and a markdown summary, and exits 1
when a round lost an event or resumed too late (`soak_report`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.environment import machine, versions
from bench.soak.accounting import recheck
from bench.soak.config import SoakConfig, from_args
from bench.soak.report import markdown, table, verdict, write_json
from bench.soak.round import run_round
from bench.soak.session import Session
from bench.soak.stack import start_stack
from bench.soak.topics import Topics
from pipeline.events.catalog import Catalog

FINAL_WAIT = 60.0  # seconds for still-undelivered events to arrive after the last round


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa: T201


def _describe(figures: dict[str, Any]) -> str:
    fault = figures["fault"]
    return (
        f"round {figures['round']} {figures['kind']} ({fault['target']} killed at "
        f"{fault['killed_at']}s, ready {fault['ready_s']}s): accepted {figures['accepted']}, "
        f"delivered {figures['delivered']}, pending {figures['pending_total']}, stalled "
        f"{figures['stalled_total']}, dead {figures['dead']}, lost {figures['lost_total']}, "
        f"repeated {figures['repeated']}, resume {figures['resume_s']}s, drain "
        f"{figures['drain']['ended']} {figures['drain']['seconds']}s"
        + (
            f"; lost at {figures['lost']}, among them {', '.join(figures['lost_tasks'][:5])}"
            if figures["lost_total"]
            else ""
        )
    )


async def _final_recheck(session: Session, results: dict[str, Any], undelivered: list[Any]) -> None:
    """Wait (bounded) for what rounds left undelivered; each round gains `late`."""
    log_ = session.stack.subscriber
    waiting = {wid for pending in undelivered for wid in pending}
    deadline = time.monotonic() + (FINAL_WAIT if waiting else 0.0)
    while waiting and time.monotonic() < deadline:
        await log_.refresh()
        waiting = {wid for wid in waiting if not log_.delivered(wid)}
        await asyncio.sleep(1.0)
    await log_.refresh()
    for figures, pending in zip(results["rounds"], undelivered, strict=True):
        figures["late"] = recheck(pending, log_.by_webhook)


def _dump_answers(session: Session, work: Path) -> None:
    """The subscriber's whole log next to the processes' logs, for a post-mortem."""
    answers = session.stack.subscriber.by_webhook
    rows = [[wid, a.arrived, a.answered, a.status] for wid, got in answers.items() for a in got]
    (work / "logs" / "answers.json").write_bytes(orjson.dumps(rows))


async def _rounds(config: SoakConfig, work: Path, results: dict[str, Any]) -> None:
    async with contextlib.AsyncExitStack() as cleanup:
        log(f"starting the soak's own broker and pipeline under {work} (seed {config.seed})")
        stack = await start_stack(config, work, cleanup)
        session = Session(
            config,
            stack,
            Topics(stack.settings),
            Catalog(stack.settings.topics_dir),
            random.Random(config.seed),  # noqa: S311 - fault schedule, not security
            uuid.uuid4().hex[:4],
        )
        undelivered = []
        for number in range(1, config.rounds + 1):
            log(f"round {number}/{config.rounds}: load, then SIGKILL {config.kind_of(number)}")
            outcome = await run_round(session, number)
            results["rounds"].append(outcome.figures)
            undelivered.append(outcome.undelivered)
            log(_describe(outcome.figures))
        await _final_recheck(session, results, undelivered)
        _dump_answers(session, work)
        log("stopping the soak's processes and broker")


async def run_soak(config: SoakConfig) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix=f"soak-{stamp}-"))
    (work / "logs").mkdir()
    settings = {**asdict(config), "results_dir": str(config.results_dir)}
    results: dict[str, Any] = {
        "stamp": stamp,
        "config": {**settings, "schedule": config.schedule()},
        "machine": machine(),
        # time.time() - time.monotonic(): turns the monotonic times of the rounds into epoch ones
        "clock_offset": time.time() - time.monotonic(),
        "versions": versions(),
        "rounds": [],
    }
    try:
        await _rounds(config, work, results)
    except BaseException:
        log(f"failed; logs kept in {work / 'logs'}")
        raise
    failures, _ = verdict(results["rounds"], config.resume_limit)
    if failures or config.keep_logs:
        results["logs_kept"] = str(work / "logs")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    config = from_args(argv)
    results = asyncio.run(run_soak(config))
    path = config.results_dir / f"{results['stamp']}-soak.json"
    write_json(results, path)
    failures, warnings = verdict(results["rounds"], config.resume_limit)
    print(table(results["rounds"]))  # noqa: T201 - the report is this command's output
    print()  # noqa: T201
    print(markdown(results))  # noqa: T201
    log(
        f"results in {path}"
        + (f"; logs kept in {results['logs_kept']}" if "logs_kept" in results else "")
    )
    for line in failures:
        log(f"FAIL {line}")
    for line in warnings:
        log(f"warning: {line}")
    return 1 if failures else 0
