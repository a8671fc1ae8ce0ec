"""How a failing instance retries and what it logs: poll outcome → next delay and log lines.

Hootsuite REST → one instance's cycle → (a failure) → this policy → the instance loop's next
delay and at most a line a minute. Health on `instances.health` is reported beside it, unchanged.
A failing instance tries again after 1, 2, 4 … seconds, never later than its interval, so a
short fault heals quickly and a long one costs no more than one attempt per interval; a thousand
instances failing together (one provider down) come back spread out by the jitter.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0  # seconds before the first retry of a failed cycle
REPEAT_SECONDS = 60.0  # at most one "still failing" line this often per instance


def backoff_delay(failures: int, interval: float, rng: random.Random) -> float:
    """Seconds until the next try after `failures` failed cycles in a row (at least one).

    Exponential, capped at the interval, with "equal jitter" (between half and all of it):
    never sooner than half the step, so the back-off holds, never in lockstep with others.
    """
    step = min(interval, BACKOFF_BASE * 2.0 ** min(failures - 1, 30))
    return rng.uniform(step / 2, step)


class FailureLog:
    """The log lines of one instance's failures: one when it starts failing (with the reason),
    at most one every `repeat` seconds while it keeps failing (with a count), one on recovery.

    Messages come from `PollerError`s, which never carry a secret.
    """

    def __init__(
        self,
        instance_id: str,
        *,
        repeat: float = REPEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._instance_id = instance_id
        self._repeat = repeat
        self._clock = clock
        self.failures = 0  # failed cycles in a row
        self._since = 0.0
        self._logged_at = 0.0
        self._logged_failures = 0

    def failed(self, reason: str, message: str) -> None:
        """Count a failed cycle; log it if it is the first, or the first in `repeat` seconds."""
        now = self._clock()
        self.failures += 1
        if self.failures == 1:
            self._since = now
            log.warning("instance %s is failing: %s: %s", self._instance_id, reason, message)
        elif now - self._logged_at >= self._repeat:
            log.warning(
                "instance %s still failing: %d failed polls in %.0fs (%d since the last line), "
                "latest %s: %s",
                self._instance_id,
                self.failures,
                now - self._since,
                self.failures - self._logged_failures,
                reason,
                message,
            )
        else:
            return
        self._logged_at, self._logged_failures = now, self.failures

    def succeeded(self) -> None:
        """A good cycle: one line if it ends a run of failures."""
        if self.failures:
            log.info(
                "instance %s recovered after %d failed polls in %.0fs",
                self._instance_id,
                self.failures,
                self._clock() - self._since,
            )
        self.failures = 0
