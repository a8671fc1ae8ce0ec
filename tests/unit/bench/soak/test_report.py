"""bench/soak/report.py: the table, the verdict behind the exit code and the markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from bench.soak.report import lost, markdown, table, verdict, write_json

LIMIT = 60.0


def figures(number: int = 1, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "round": number,
        "kind": "worker",
        "accepted": 100,
        "delivered": 100,
        "pending_total": 0,
        "stalled_total": 0,
        "dead": 0,
        "lost": {},
        "lost_total": 0,
        "repeated": 7,
        "repeated_by_kill": 5,
        "in_flight_at_kill": 6,
        "at_risk_estimate": 9.0,
        "resume_s": 8.5,
        "fresh_resume_s": 12.0,
        "accepted_after_restart": 40,
        "normalized_repeats": 0,
        "warm_up": {"ok": True, "seconds": 1.0},
        "fault": {"target": "worker-1", "ready_s": 1.2, "error": None},
        "drain": {"ended": "complete", "seconds": 30.0},
        "late": {"delivered_later": 0, "never_delivered": 0, "lost_final": 0},
    }
    return {**values, **overrides}


def results(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "stamp": "20260101T000000Z",
        "config": {
            "rounds": len(rounds),
            "seed": 7,
            "rate": 60.0,
            "duration": 25.0,
            "resume_limit": LIMIT,
            "retry_schedule": "2,5,10",
            "delivery_timeout": 5.0,
            "delivery_concurrency": 64,
            "per_subscription": 20,
            "mix": {"duplicate_share": 0.1},
            "subscriber": {"slow_share": 0.2, "slow_seconds": [3.0, 4.0], "fail_share": 0.05},
        },
        "machine": {"cores": 2, "memory_gib": 8.0},
        "versions": {"python": "3.11.7", "kafka": "3.9.1", "pipeline_head": "0123456789abcdef"},
        "rounds": rounds,
    }


def test_table_has_a_row_per_round_and_totals() -> None:
    text = table([figures(1), figures(2, kind="broker", repeated=3)])
    lines = text.splitlines()

    assert "accepted" in lines[0]
    assert len(lines) == 6  # header, rule, two rounds, rule, totals
    assert lines[-1].split()[:5] == ["total", "2", "rounds", "200", "200"]
    assert " 10 " in lines[-1]  # repeats summed


def test_clean_rounds_pass() -> None:
    assert verdict([figures(1), figures(2)], LIMIT) == ([], [])


def test_a_final_loss_fails_but_a_late_delivery_does_not() -> None:
    late = figures(
        1, lost={"deliver": 2}, lost_total=2, late={"never_delivered": 1, "lost_final": 1}
    )
    recovered = figures(
        2, lost={"route": 1}, lost_total=1, late={"never_delivered": 0, "lost_final": 0}
    )

    failures, _ = verdict([late, recovered], LIMIT)

    assert (lost(late), lost(recovered)) == (1, 0)
    assert len(failures) == 1
    assert failures[0].startswith("round 1")


def test_a_slow_or_missing_resumption_fails() -> None:
    slow = figures(1, resume_s=61.0)
    never = figures(2, fresh_resume_s=None)
    idle = figures(3, fresh_resume_s=None, accepted_after_restart=0)  # nothing fresh to deliver

    failures, _ = verdict([slow, never, idle], LIMIT)

    assert [line.split(":")[0] for line in failures] == ["round 1 (worker)", "round 2 (worker)"]


def test_undelivered_and_repeated_normalization_are_warnings() -> None:
    stuck = figures(1, late={"never_delivered": 3, "lost_final": 0}, normalized_repeats=2)

    failures, warnings = verdict([stuck], LIMIT)

    assert failures == []
    assert len(warnings) == 2


def test_more_repeats_than_requests_open_at_the_kill_is_a_warning_with_the_gaps() -> None:
    over = figures(1, repeated_by_kill=42, in_flight_at_kill=40, before_kill_ms=[3.5, 41.0])

    failures, warnings = verdict([over], LIMIT)

    assert failures == []
    assert warnings == [
        "round 1 (worker): 42 repeats by the kill, 40 deliveries in flight at it; the first 2xx "
        "of those answered before it came 3.5, 41 ms before the kill"
    ]
    concluded_late = figures(1, repeated_by_kill=42, in_flight_at_kill=40, unconcluded_at_kill=2)
    assert verdict([concluded_late], LIMIT) == ([], [])
    assert "40+2 (" in table([concluded_late])


def test_markdown_holds_the_command_the_table_and_the_verdict() -> None:
    text = markdown(results([figures(1), figures(2, resume_s=None)]))

    assert "--seed 7" in text
    assert "| round | kind |" in text
    assert "- FAIL round 2 (worker)" in text


def test_write_json_writes_every_figure(tmp_path: Path) -> None:
    path = tmp_path / "results" / "x-soak.json"

    write_json(results([figures()]), path)

    assert orjson.loads(path.read_bytes())["rounds"][0]["accepted"] == 100
    assert not list(path.parent.glob("*.tmp"))
