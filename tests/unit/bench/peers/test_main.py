"""The peer comparison's pure parts: figures, medians, ratios, the table, the runners' turns."""

from typing import Any

import pytest

from bench.ladder.config import from_args
from bench.ladder.tables import markdown
from bench.peers.figures import (
    Observed,
    all_committed,
    cpu_at,
    peer_lines,
    ratios,
    run_figures,
    summarize,
)
from bench.peers.main import estimated_seconds, order
from bench.peers.stage import RunnerSpec, dedup_key
from pipeline.agents.normalize import dedup_key as worker_dedup_key

EXPECTED = frozenset({"a", "b", "c", "d"})
# CPU sampled every second from the start at t=100: 1 s of start-up, then 0.5 CPU-s per second
SAMPLES = [(100.0, 0.0), (101.0, 1.0), (102.0, 1.5), (103.0, 2.0), (104.0, 2.5)]


def _observed(
    outputs: list[tuple[float, str]], *, ended: str = "complete", committed: bool = True
) -> Observed:
    return Observed(
        started=100.0, ended=ended, committed=committed, samples=SAMPLES, outputs=outputs
    )


def _drained() -> Observed:
    """Every expected event written once, from t=101.5 to t=103.5."""
    return _observed([(101.5, "a"), (102.0, "b"), (103.0, "c"), (103.5, "d")])


def test_cpu_is_interpolated_between_samples_and_clamped_outside() -> None:
    assert cpu_at(SAMPLES, 101.5) == pytest.approx(1.25)
    assert cpu_at(SAMPLES, 103.0) == 2.0
    assert cpu_at(SAMPLES, 99.0) == 0.0
    assert cpu_at(SAMPLES, 110.0) == 2.5
    assert cpu_at([], 1.0) == 0.0


def test_a_run_is_measured_from_its_first_output_to_its_last() -> None:
    figures = run_figures("quix", 0, 6, EXPECTED, _drained())
    assert figures["ok"]
    assert figures["failures"] == []
    assert figures["first_to_last_output_s"] == 2.0
    assert figures["records_per_s"] == 3.0  # all 6 input records over the 2 s window
    assert figures["events_per_s"] == 2.0
    # CPU from 1.25 (t=101.5) to 2.25 (t=103.5): 1 CPU-s for 6 records
    assert figures["cpu_s_per_1000_records"] == pytest.approx(1000 / 6, abs=1e-3)
    assert figures["start_to_first_output_s"] == 1.5
    assert figures["cpu_s_before_first_output"] == 1.25


@pytest.mark.parametrize(
    ("observed", "failure"),
    [
        (_observed([(101.5, "a"), (102.0, "b"), (103.0, "c")]), "3 events written, 4 expected"),
        (
            _observed([(101.5, "a"), (102.0, "a"), (103.0, "b"), (103.5, "c")]),
            "1 missing, 0 unexpected",
        ),
        (
            _observed([(101.5, "a"), (102.0, "b"), (103.0, "c"), (103.5, "x")]),
            "1 missing, 1 unexpected",
        ),
        (
            _observed([(101.5, "a"), (102.0, "b"), (103.0, "c"), (103.5, "d")], committed=False),
            "offsets not committed to the end of the backlog",
        ),
        (_observed([], ended="exited"), "ended: exited"),
    ],
)
def test_a_run_without_exactly_the_expected_events_is_failed_and_has_no_figures(
    observed: Observed, failure: str
) -> None:
    figures = run_figures("bare", 0, 6, EXPECTED, observed)
    assert not figures["ok"]
    assert failure in figures["failures"]
    assert figures["records_per_s"] is None
    assert figures["cpu_s_per_1000_records"] is None


def test_the_backlog_is_committed_when_every_partition_with_records_is() -> None:
    ends = {0: 581, 1: 169, 2: 0, 3: 187}
    assert all_committed(ends, {0: 581, 1: 169, 3: 187})  # nothing read, nothing committed on 2
    assert not all_committed(ends, {0: 581, 1: 168, 3: 187})
    assert not all_committed(ends, {0: 581, 1: 169})


def _run(runner: str, rate: float | None, cpu: float | None = 1.0) -> dict[str, Any]:
    return {
        "runner": runner,
        "ok": rate is not None,
        "records_per_s": rate,
        "events_per_s": None if rate is None else rate * 1.5,
        "cpu_s_per_1000_records": None if rate is None else cpu,
    }


def test_medians_leave_failed_runs_out() -> None:
    runs = [_run("quix", 2000.0), _run("quix", 2400.0), _run("quix", None), _run("quix", 3000.0)]
    summary = summarize(runs)["quix"]
    assert summary["runs"] == 4
    assert summary["failed"] == 1
    assert summary["records_per_s"] == 2400.0
    assert summarize([_run("bare", None)])["bare"]["records_per_s"] is None


def test_ratios_divide_the_pipeline_by_each_peer_and_judge_the_target_against_quix() -> None:
    summary = summarize(
        [_run("pipeline", 1800.0, 0.5), _run("quix", 2000.0, 0.45), _run("bare", 3600.0, 0.25)]
    )
    found = ratios(summary)
    assert found["pipeline_vs_quix"] == {
        "records_per_s": 0.9,
        "cpu_per_record": 1.111,
        "meets_target": True,
    }
    assert found["pipeline_vs_bare"] == {"records_per_s": 0.5, "cpu_per_record": 2.0}
    slow = ratios(summarize([_run("pipeline", 1000.0, 1.3), _run("quix", 2000.0, 0.45)]))
    assert slow["pipeline_vs_quix"]["meets_target"] is False
    failed = ratios(summarize([_run("pipeline", None), _run("quix", 2000.0)]))
    assert failed["pipeline_vs_quix"]["meets_target"] is None


def _peer() -> dict[str, Any]:
    summary = summarize([_run("pipeline", 1162.0, 0.84), _run("quix", 2191.0, 0.45)])
    return {
        "input_records": 6000,
        "events_expected": 9300,
        "summary": summary,
        "ratios": ratios(summary),
    }


def test_the_table_has_a_row_per_runner_with_the_ratios_and_the_verdict() -> None:
    lines = peer_lines(_peer())
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[1] == "| pipeline worker | 1 / 1 | 1,162 | 1,743 | 0.84 | - | - |"
    assert rows[2] == "| Quix Streams | 1 / 1 | 2,191 | 3,286 | 0.45 | 0.53 | 1.87 |"
    assert lines[-1].endswith(": not met")
    assert peer_lines(None) == []


def test_the_session_tables_include_the_peer_section_when_it_ran() -> None:
    results: dict[str, Any] = {
        "config": {"rates": []},
        "runs": [],
        "skipped": [],
        "peer": _peer(),
    }
    assert "| Quix Streams |" in markdown(results)
    without = markdown({**results, "peer": None})
    assert "| Quix Streams |" not in without  # the section is gone
    row = "| normalize+dedup ≥ 0.8x Quix Streams' records/s at ≤ 1.25x its CPU |"
    assert f"{row} not measured | not measured |" in without  # its target, unmeasured


def test_runners_take_turns_first_and_the_session_can_leave_the_peer_out() -> None:
    assert [order(repeat)[0] for repeat in range(3)] == ["pipeline", "quix", "bare"]
    assert sorted(order(1)) == sorted(order(0))
    assert estimated_seconds(12000, 1) > estimated_seconds(6000, 1)
    assert estimated_seconds(6000, 2) > estimated_seconds(6000, 1)
    assert from_args([]).peer
    assert not from_args(["--no-peer"]).peer
    assert from_args(["--peer-webhooks", "2000"]).peer_webhooks == 2000


def test_the_runner_spec_survives_the_trip_through_its_file_and_keys_dedup_as_the_worker() -> None:
    spec = RunnerSpec("127.0.0.1:9092", "p.webhooks.raw", "p.peer.bare.0", "g", "/t", "/s")
    assert RunnerSpec.from_json(spec.to_json()) == spec
    event = {"source": "oktopost/okto-1", "id": "e1"}
    assert dedup_key(event) == worker_dedup_key(event) == "oktopost/okto-1 e1"
