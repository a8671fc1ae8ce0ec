"""Sampling profiles of pipeline processes with py-spy, summarised as shares of samples.

py-spy attaches to a running process (`--nonblocking`: it never pauses the target), so the stage
is profiled exactly as the user runs it. `--gil` keeps only samples of the thread holding the GIL:
the process's Python CPU time. Without it, a thread waiting for a core inside a syscall (common on
two busy cores: a send to the broker wakes the broker, which takes the core) would be counted as
busy in that syscall, and socket writes would look like a third of the worker's time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLES_PER_SECOND = 100
TOP = 15
# Frames every stack passes through (the event loop, the entry point): their inclusive share says
# nothing, so they are left out of the inclusive ranking, as is any frame in most samples.
FRAMEWORK_FILES = ("asyncio/", "runpy.py", "<frozen", "threading.py", "selectors.py", "mode/")
UBIQUITOUS = 0.6


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Profile:
    """One py-spy recording in progress."""

    name: str
    output: Path
    popen: subprocess.Popen[bytes]

    def wait(self, within: float) -> Path | None:
        try:
            self.popen.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        return self.output if self.output.exists() else None


def start_profile(
    name: str, pid: int, seconds: float, output: Path, log_dir: Path
) -> Profile | None:
    """Record `pid` for `seconds` into `output` (collapsed stacks); None when py-spy is missing."""
    tool = py_spy()
    if tool is None:
        return None
    argv = [
        tool, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
        "--rate", str(SAMPLES_PER_SECOND), "--format", "raw", "--nolineno", "--nonblocking",
        "--gil", "--output", str(output),
    ]  # fmt: skip
    with (log_dir / f"py-spy-{name}.log").open("ab") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    return Profile(name, output, popen)


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """`frame;frame;… count` lines → stack (outermost first) → samples."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _file_of(frame: str) -> str:
    return frame.rpartition(" (")[2].rstrip(")")


def _package_of(frame: str) -> str:
    file = _file_of(frame)
    return file.split("/", 1)[0] if "/" in file else file


def _shares(counts: Counter[str], total: int) -> list[dict[str, Any]]:
    return [
        {"name": name, "share": round(count / total, 4)} for name, count in counts.most_common(TOP)
    ]


def summarize_profile(path: Path) -> dict[str, Any]:
    """Top functions by self and by inclusive share, and self share by package."""
    stacks = read_stacks(path)
    total = sum(stacks.values())
    if not total:
        return {"samples": 0}
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for stack, count in stacks.items():
        own[stack[-1]] += count
        packages[_package_of(stack[-1])] += count
        for frame in set(stack):
            if not _file_of(frame).startswith(FRAMEWORK_FILES):
                inclusive[frame] += count
    for frame, count in list(inclusive.items()):
        if count >= UBIQUITOUS * total:
            del inclusive[frame]
    return {
        "samples": total,
        "self": _shares(own, total),
        "inclusive": _shares(inclusive, total),
        "packages": _shares(packages, total),
    }
