"""The machine and software a session ran on, for the results file and BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.ops.local_kafka import KAFKA_VERSION
from pipeline.settings import REPO_ROOT

PACKAGES = ("aiokafka", "faust-streaming", "aiohttp", "orjson", "rocksdict")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def machine() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def _git_dirs(git_dir: Path) -> tuple[Path, Path]:
    """The directory holding HEAD and the one holding the refs: in a linked work tree (`git
    worktree add`) `.git` is a file naming the first, whose `commondir` names the second."""
    if not git_dir.is_file():
        return git_dir, git_dir
    own = Path(git_dir.read_text().strip().removeprefix("gitdir: "))
    return own, (own / (own / "commondir").read_text().strip()).resolve()


def source_revision(git_dir: Path = REPO_ROOT / ".git") -> str:
    """The commit HEAD names, read from the files (the work tree may hold changes beyond it)."""
    try:
        own, common = _git_dirs(git_dir)
        head = (own / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head.removeprefix("ref: ")
        if (common / ref).exists():
            return (common / ref).read_text().strip()
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return "unknown"


def versions() -> dict[str, str]:
    found = {
        "python": platform.python_version(),
        "kafka": KAFKA_VERSION,
        "pipeline_head": source_revision(),
    }
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found
