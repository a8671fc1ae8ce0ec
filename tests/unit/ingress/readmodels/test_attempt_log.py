"""The attempt log the admin API serves: by subscription, newest first, the last 1,000 each."""

from __future__ import annotations

import orjson

from pipeline.ingress.readmodels.attempt_log import KEPT_PER_SUBSCRIPTION, AttemptLog


def _attempt(subscription: str, number: int) -> bytes:
    return orjson.dumps({"subscription_id": subscription, "attempt_id": f"a{number}"})


def test_latest_attempts_per_subscription_newest_first_and_bounded() -> None:
    log = AttemptLog("127.0.0.1:1", "unused")
    total = KEPT_PER_SUBSCRIPTION + 5
    for number in range(total):
        log._consume(b"s1", _attempt("s1", number), number)
    log._consume(b"s2", _attempt("s2", 0), total)
    log._consume(None, _attempt("s2", 1), total + 1)  # unkeyed: bucketed by the id inside
    log._consume(b"s2", b"not json", total + 2)  # unreadable: skipped when read
    log._consume(b"s2", None, total + 3)  # a tombstone is no attempt
    shown = [a["attempt_id"] for a in log.latest("s1")]
    assert len(shown) == KEPT_PER_SUBSCRIPTION
    assert shown[0] == f"a{total - 1}"
    assert shown[-1] == f"a{total - KEPT_PER_SUBSCRIPTION}"
    assert [a["attempt_id"] for a in log.latest("s2")] == ["a1", "a0"]
    assert log.latest("nobody") == []
