from typing import Any

from bench.ladder.report import sustained_rate


def _run(offered: float, delivered_rate: float, ended: str = "complete") -> dict[str, Any]:
    """A 20 s fixed-rate run: 2,000 requests at 100/s, 209 of them resends, 2,925 events."""
    return {
        "target": "pipeline",
        "ingress_only": False,
        "offered_rate": offered,
        "achieved_rate": offered,
        "responses": {"202": 2000},
        "duplicates_sent": 209,
        "events_accepted": 2925,
        "delivered_rate": delivered_rate,
        "drain": {"ended": ended},
    }


def test_a_run_delivering_every_event_as_it_came_is_sustained() -> None:
    # 2,925 events in 20 s is 146.25/s (bench/results/20261205T161029Z, pipeline-r100)
    assert sustained_rate({"runs": [_run(100.0, 146.2)]}) == 100.0


def test_a_run_falling_behind_or_not_drained_is_not() -> None:
    assert sustained_rate({"runs": [_run(100.0, 130.0)]}) is None
    assert sustained_rate({"runs": [_run(100.0, 146.2, ended="cap")]}) is None
    assert sustained_rate({"runs": [_run(100.0, 146.2), _run(250.0, 200.0)]}) == 100.0
