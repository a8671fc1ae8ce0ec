"""pipeline.ops.supervisor: a child that exits is restarted with backoff; a stop ends them all;
children log to files of their own and get the run's key ring."""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
from pathlib import Path

import pytest

from pipeline.config.keyring import KEY_FILE
from pipeline.ops import supervisor
from pipeline.ops.supervisor import Plan
from pipeline.settings import Settings


async def test_a_child_that_exits_is_restarted_until_the_run_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "RESTART_FIRST_SECONDS", 0.05)
    starts = tmp_path / "starts"
    # `worker` records each start and exits 70 at once, as a stalled worker does; `ingress` runs.
    script = (
        "import sys, time\n"
        f"open({str(starts)!r}, 'a').write(sys.argv[1] + '\\n')\n"
        "sys.exit(70) if sys.argv[1] == 'worker' else time.sleep(60)\n"
    )
    plan = Plan(processes={"worker": [], "ingress": []}, program=(sys.executable, "-c", script))
    children = {name: await supervisor._spawn(plan, name) for name in plan.processes}
    stop = asyncio.Event()
    running = asyncio.ensure_future(supervisor._keep_running(plan, children, stop))

    def started(name: str) -> int:
        return starts.read_text().split().count(name) if starts.exists() else 0

    for _ in range(400):  # a deadline of 20 s, polled
        if started("worker") >= 3:
            break
        await asyncio.sleep(0.05)
    assert started("worker") >= 3
    ingress = children["ingress"]
    assert ingress.returncode is None  # the others keep running
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    await supervisor._terminate(children)
    assert all(child.returncode is not None for child in children.values())
    assert starts.read_text().split().count("ingress") == 1


async def test_children_log_to_their_own_files_and_share_the_runs_key_ring(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_keys=None)
    seen = tmp_path / "seen"
    script = (
        "import os, sys\n"
        f"open({str(seen)!r}, 'a').write(sys.argv[1] + ' ' + os.environ['PIPELINE_LOG_FILE']"
        " + ' ' + os.environ['PIPELINE_SECRET_KEYS'] + '\\n')\n"
    )
    base = Plan(processes={"ingress": [], "worker": []}, program=(sys.executable, "-c", script))
    with caplog.at_level(logging.WARNING, logger="pipeline.config.keyring"):
        plan = supervisor._for_children(settings, base)
    assert caplog.text.count("PIPELINE_SECRET_KEYS is not set") == 1  # here, not per child
    for name in plan.processes:
        await (await supervisor._spawn(plan, name)).wait()
    ring = (tmp_path / "data" / KEY_FILE).read_text().strip()
    lines = sorted(seen.read_text().splitlines())
    assert lines == [
        f"ingress {tmp_path / 'data' / 'logs' / 'ingress.log'} {ring}",
        f"worker {tmp_path / 'data' / 'logs' / 'worker.log'} {ring}",
    ]


def test_a_configured_key_ring_is_left_to_the_environment(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_keys=None)
    configured = Settings(data_dir=tmp_path, secret_keys=_a_ring())
    plan = Plan(processes={"worker": []}, env={"PIPELINE_SECRET_KEYS": "given"})
    assert supervisor._for_children(configured, plan).env == {"PIPELINE_SECRET_KEYS": "given"}
    assert supervisor._for_children(settings, plan).env != {"PIPELINE_SECRET_KEYS": "given"}


def _a_ring() -> str:
    return "k1:" + base64.b64encode(bytes(32)).decode()
