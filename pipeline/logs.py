"""Process logging: one format, and aiokafka's reconnect errors folded so an outage stays readable.

While a broker is down, every aiokafka client logs "Unable connect to node" several times a second;
the filter lets the first of each kind through, then one summary per interval with the count.
"""

from __future__ import annotations

import logging
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RepeatFilter(logging.Filter):
    """Pass a message kind at most once per `interval`, noting how many were folded into it."""

    def __init__(self, prefix: str = "aiokafka", interval: float = 10.0) -> None:
        super().__init__()
        self._prefix = prefix
        self._interval = interval
        self._last: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
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


def configure(level: str) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.root.level))
    folding = RepeatFilter()
    for handler in logging.root.handlers:  # handler filters also see records of child loggers
        handler.addFilter(folding)
