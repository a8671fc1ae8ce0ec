"""pipeline.ops.supervisor: a child that exits is restarted with backoff; a stop ends them all."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from pipeline.ops import supervisor
from pipeline.ops.supervisor import Plan


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
