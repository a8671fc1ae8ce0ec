"""CPU time and peak memory of a process, from /proc (Linux only)."""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _parents() -> dict[int, list[int]]:
    """Parent pid → child pids, from every /proc/<pid>/stat (field 4 is the parent)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # exited meanwhile
            continue
        children.setdefault(parent, []).append(int(entry.name))
    return children


def tree(pid: int) -> list[int]:
    """`pid` and its running descendants (`pipeline ingress` with several processes is a tree)."""
    children = _parents()
    found, index = [pid], 0
    while index < len(found):
        found.extend(children.get(found[index], ()))
        index += 1
    return found


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # exited meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its descendants (fields 14 and 15 of stat)."""
    return sum(_own_cpu_seconds(member) for member in tree(pid))


def _status_kib(pid: int, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_kib(pid: int | None = None) -> int:
    """The resident set (VmRSS) of `pid` alone, or of this process, in KiB."""
    return _status_kib(os.getpid() if pid is None else pid, "VmRSS")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def malloc_stats() -> dict[str, int]:
    """This process's C heap as glibc's `mallinfo2` sums it over every arena: bytes obtained
    from the system (heap arenas, mmapped chunks), in use, and free but kept by malloc."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):  # not glibc 2.33+
        return {}
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {
        "malloc_arena_bytes": info.arena,
        "malloc_mmapped_bytes": info.hblkhd,
        "malloc_in_use_bytes": info.uordblks + info.hblkhd,
        "malloc_free_bytes": info.fordblks,
    }


def peak_rss_mib(pid: int) -> float:
    """The resident-set high-water marks (VmHWM) of the tree since start or `reset_peak`."""
    return sum(_status_kib(member, "VmHWM") for member in tree(pid)) / 1024


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (`5` → clear_refs), so each run has its own peak."""
    reset = False
    for member in tree(pid):
        with contextlib.suppress(OSError):
            Path(f"/proc/{member}/clear_refs").write_text("5")
            reset = True
    return reset


@dataclass(frozen=True)
class Usage:
    """What one process used during one measured window."""

    cpu_seconds: float
    peak_rss_mib: float


class Meter:
    """Measures named processes over a window: `start()`, then `stop()` → usage per name.

    `end_early(names)` closes the CPU window of those processes before `stop()`.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._cpu_at_start: dict[str, float] = {}
        self._cpu_at_end: dict[str, float] = {}

    def end_early(self, names: frozenset[str]) -> None:
        for name in names & self._pids.keys():
            self._cpu_at_end[name] = cpu_seconds(self._pids[name])

    def start(self) -> None:
        for name, pid in self._pids.items():
            reset_peak(pid)
            self._cpu_at_start[name] = cpu_seconds(pid)

    def stop(self) -> dict[str, Usage]:
        return {
            name: Usage(
                cpu_seconds=round(
                    self._cpu_at_end.get(name, cpu_seconds(pid)) - self._cpu_at_start[name], 3
                ),
                peak_rss_mib=round(peak_rss_mib(pid), 1),
            )
            for name, pid in self._pids.items()
        }
