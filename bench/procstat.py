"""CPU time and peak memory of a process, from /proc (Linux only)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def peak_rss_mib(pid: int) -> float:
    """The resident-set high-water mark (VmHWM) since start or the last `reset_peak`."""
    return _status_kib(pid, "VmHWM") / 1024


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (`5` → clear_refs), so each run has its own peak."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    return False


@dataclass(frozen=True)
class Usage:
    """What one process used during one measured window."""

    cpu_seconds: float
    peak_rss_mib: float


class Meter:
    """Measures named processes over a window: `start()`, then `stop()` → usage per name."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._cpu_at_start: dict[str, float] = {}

    def start(self) -> None:
        for name, pid in self._pids.items():
            reset_peak(pid)
            self._cpu_at_start[name] = cpu_seconds(pid)

    def stop(self) -> dict[str, Usage]:
        return {
            name: Usage(
                cpu_seconds=round(cpu_seconds(pid) - self._cpu_at_start[name], 3),
                peak_rss_mib=round(peak_rss_mib(pid), 1),
            )
            for name, pid in self._pids.items()
        }
