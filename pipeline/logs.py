"""Process logging: one format for the pipeline's, faust's and aiokafka's lines, a log file when
asked for one, and aiokafka's noise kept readable.

With `PIPELINE_LOG_FILE` (`pipeline run` gives each process one under `PIPELINE_DATA_DIR/logs/`)
every line goes to that file and the console shows warnings and errors only, so the terminal keeps
the lines that matter; `PIPELINE_LOG_LEVEL=DEBUG` shows everything on the console as well.

While a broker is down, every aiokafka client logs "Unable connect to node" several times a second;
the filter lets the first of each kind through, then one summary per interval with the count. A
group coordinator that is not available yet, as at every start on a fresh broker, is retried by
aiokafka; it logs that as ERROR, which here becomes INFO.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path

from aiokafka.errors import GroupCoordinatorNotAvailableError, GroupLoadInProgressError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# On a shared console the process names itself and the date is left out.
CONSOLE_FORMAT = "%(asctime)s {process} %(levelname)s %(name)s: %(message)s"
CONSOLE_DATE = "%H:%M:%S"
COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"
# Retriable answers of a group coordinator that is still being elected or loading its group.
COORDINATOR_STARTING = (GroupCoordinatorNotAvailableError, GroupLoadInProgressError)
COORDINATOR_DEAD = "Marking the coordinator dead"
_installed: list[logging.Handler] = []  # this module's root handlers, replaced on reconfiguring


class RepeatFilter(logging.Filter):
    """Pass a message kind at most once per `interval`, noting how many were folded into it."""

    def __init__(self, prefix: str = "aiokafka", interval: float = 10.0) -> None:
        super().__init__()
        self._prefix = prefix
        self._interval = interval
        self._last: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "repeat_filter_passed", None)
        if isinstance(decided, bool):  # the console and the file decide alike
            return decided
        passed = self._decide(record)
        record.repeat_filter_passed = passed
        return passed

    def _decide(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self._prefix):
            return True
        kind = f"{record.name}:{record.msg}"[:200]
        now = time.monotonic()
        last, folded = self._last.get(kind, (float("-inf"), 0))
        if now - last < self._interval:
            self._last[kind] = (last, folded + 1)
            return False
        self._last[kind] = (now, 0)
        if folded:
            record.msg = (
                f"{record.msg} (and {folded} more like it in the last {self._interval:.0f}s)"
            )
        return True


class CoordinatorWaitFilter(logging.Filter):
    """aiokafka's "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailable" and
    "Marking the coordinator dead" as INFO: aiokafka looks the coordinator up again at once, a
    coordinator still being elected is how a start on a new broker begins, and a real outage
    shows in the connection errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        starting = any(isinstance(arg, COORDINATOR_STARTING) for arg in _args(record))
        if starting or str(record.msg).startswith(COORDINATOR_DEAD):
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger("aiokafka").isEnabledFor(logging.INFO)
        return True


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    return record.args if isinstance(record.args, tuple) else ()


def configure(level: str, log_file: Path | None = None) -> None:
    """Root handlers for a process: the console, and `log_file` when given (see the docstring)."""
    root = logging.getLogger()
    for handler in _installed:  # others' handlers (a test runner's) stay
        root.removeHandler(handler)
    _installed.clear()
    root.setLevel(level)
    console = logging.StreamHandler(sys.stderr)
    if log_file is None:
        console.setFormatter(logging.Formatter(FORMAT))
        # aiokafka's INFO lines (joins, assignments, metadata) are for a log file, not a console
        logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter(FORMAT))
        _installed.append(to_file)
        shown = CONSOLE_FORMAT.format(process=log_file.stem)
        console.setFormatter(logging.Formatter(shown, CONSOLE_DATE))
        console.setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
        logging.getLogger("aiokafka").setLevel(root.level)
    _installed.append(console)
    folding = RepeatFilter()
    for handler in _installed:  # handler filters also see records of child loggers
        handler.addFilter(folding)
        root.addHandler(handler)
    coordinator = logging.getLogger(COORDINATOR_LOGGER)
    if not any(isinstance(f, CoordinatorWaitFilter) for f in coordinator.filters):
        coordinator.addFilter(CoordinatorWaitFilter())


def flush_handlers() -> None:
    """Flush the root handlers before the process exits; a closed stream does not stop the exit."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(ValueError, OSError):
            handler.flush()
