"""bench.ladder.targets and bench.ladder.flows: issue 25's targets read from a session's results."""

from typing import Any

from bench.ladder.flows import summary
from bench.ladder.targets import targets


def _run(offered: float, p50: float, p99: float, delivered_rate: float) -> dict[str, Any]:
    """A fixed-rate run of 2,000 requests, 2,925 events; latencies in seconds."""
    return {
        "name": f"pipeline-r{offered:g}",
        "target": "pipeline",
        "ingress_only": False,
        "offered_rate": offered,
        "achieved_rate": offered,
        "responses": {"202": 2000},
        "events_accepted": 2925,
        "delivered_rate": delivered_rate,
        "drain": {"ended": "complete"},
        "end_to_end_s": {"p50": p50, "p99": p99},
    }


def _drain(worker: tuple[float, float], bare: tuple[float, float], delivered: int = 100) -> Any:
    """(events/s, CPU-s per 1,000) of each flow; `delivered` of 100 events by the worker."""
    flows = {
        "worker": {"events_per_s": worker[0], "worker_cpu_s_per_1000": worker[1]},
        "bare": {"events_per_s": bare[0], "worker_cpu_s_per_1000": bare[1]},
    }
    flows["worker"] |= {"events_expected": 100, "events_delivered": delivered}
    flows["bare"] |= {"events_expected": 100, "events_delivered": 100}
    ratios = {
        "events_per_s": round(worker[0] / bare[0], 3),
        "cpu_s_per_1000": round(worker[1] / bare[1], 3),
    }
    return {"flows": flows, "ratios": ratios}


def test_the_drain_targets_read_the_medians_of_the_complete_drains() -> None:
    drains = [
        _drain((800.0, 0.6), (1000.0, 0.5)),  # 0.8x, 1.2x
        _drain((900.0, 0.7), (1000.0, 0.5)),  # 0.9x, 1.4x
        _drain((700.0, 0.64), (1000.0, 0.5)),  # 0.7x, 1.28x
        _drain((10.0, 9.0), (1000.0, 0.5), delivered=40),  # incomplete: left out
    ]
    found = summary(drains)
    assert found["complete"] == 3
    assert (found["events_per_s_vs_bare"], found["cpu_per_event_vs_bare"]) == (0.8, 1.28)
    assert found["worker_cpu_s_per_1000"] == 0.64
    met = [t.met for t in targets({"runs": [], "flows": {"summary": found}})[:3]]
    assert met == [True, True, True]
    found["cpu_per_event_vs_bare"], found["worker_cpu_s_per_1000"] = 1.5, 0.8
    met = [t.met for t in targets({"runs": [], "flows": {"summary": found}})[:3]]
    assert met == [True, False, False]


def test_the_sustained_target_needs_750_per_second_with_p99_under_250_ms() -> None:
    runs = [_run(500.0, 0.05, 0.2, 731.0), _run(750.0, 0.08, 0.3, 1096.0)]
    sustained = next(t for t in targets({"runs": runs}) if "sustained" in t.name)
    assert (sustained.met, sustained.figure) == (False, "500/s (p99 200 ms)")
    runs[1]["end_to_end_s"]["p99"] = 0.24
    sustained = next(t for t in targets({"runs": runs}) if "sustained" in t.name)
    assert (sustained.met, sustained.figure) == (True, "750/s (p99 240 ms)")
    behind = [_run(750.0, 0.08, 0.2, 600.0)]  # deliveries fell behind: not sustained
    assert [t.met for t in targets({"runs": behind}) if "sustained" in t.name] == [False]


def test_the_low_rate_target_and_what_was_not_measured() -> None:
    low = [t for t in targets({"runs": [_run(100.0, 0.0149, 0.05, 146.0)]}) if "100" in t.name]
    assert (low[0].met, low[0].figure) == (True, "p50 14.9 ms, p99 50.0 ms")
    slow = [t for t in targets({"runs": [_run(100.0, 0.016, 0.03, 146.0)]}) if "100" in t.name]
    assert slow[0].met is False
    nothing = targets({"runs": []})
    assert [t.met for t in nothing] == [None] * 6
