"""bench/drains/bare_drain.py and the drain's flow options: bare_flow's spec beside the session's
worker, its counts, and the worker/bare ratios the drain prints."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import orjson
import pytest

from bench.drains.bare_drain import BareRoute, bare_drainer, bare_spec, comparison, flow_ratios
from bench.drains.worker_drain import FLOWS, flows_of
from pipeline.http.standard_webhooks import generate_secret
from pipeline.settings import load_settings


def figures(events_per_s: float, cpu: float) -> dict[str, object]:
    return {
        "events_expected": 10,
        "events_delivered": 10,
        "events_per_s": events_per_s,
        "worker_cpu_s_per_1000": cpu,
        "longest_gap_s": 0.1,
        "repeats": 0,
        "unsigned": 0,
        "machine_busy": 0.9,
    }


def test_bare_flow_reads_the_sessions_backlog_and_writes_topics_of_its_own() -> None:
    session = load_settings(topic_prefix="benchab12.", app_id="benchab12-app")
    secret = generate_secret()
    routes = [BareRoute("sub-a", ["okto-a", "hoot-a"]), BareRoute("sub-b", ["okto-b", "hoot-b"])]
    spec = bare_spec(session, routes, "http://127.0.0.1:5/hook", secret)
    assert spec.source == "benchab12.webhooks.raw"
    own = spec.loaded_settings()
    assert own.topic("deliveries") == "benchab12.bare.deliveries"
    assert own.app_id != session.app_id
    assert spec.group != session.app_id  # the worker's consumer group: read on its own
    subscriptions = spec.loaded_subscriptions()
    assert [(s.id, s.instance_ids, s.secret) for s in subscriptions] == [
        ("sub-a", ["okto-a", "hoot-a"], secret),
        ("sub-b", ["okto-b", "hoot-b"], secret),
    ]
    assert {s.url for s in subscriptions} == {"http://127.0.0.1:5/hook"}
    assert spec.stop_after is None  # the drain stops it


def test_the_drainer_hands_bare_flow_its_spec_and_reads_its_counts(tmp_path: Path) -> None:
    session = load_settings(topic_prefix="benchab12.", app_id="benchab12-app")
    spec = bare_spec(session, [BareRoute("sub-a", ["okto-a"])], "http://h/hook", "whsec_x")
    drainer = bare_drainer(spec, tmp_path, {"PIPELINE_DELIVERY_CONCURRENCY": "16"})
    [child] = drainer.children
    spec_path, out = child.argv[-2:]
    assert child.argv[-3] == "bench.drains.bare_flow"
    assert Path(spec_path).read_bytes() == spec.to_json()
    assert child.env["PIPELINE_DELIVERY_CONCURRENCY"] == "16"  # the worker's settings too
    assert asyncio.run(drainer.stop_and_count()) == {child.name: None}  # wrote no counts
    Path(out).write_bytes(orjson.dumps({"delivered": 7}))
    assert asyncio.run(drainer.stop_and_count()) == {child.name: {"delivered": 7}}


def test_ratios_are_the_workers_figures_over_bare_flows() -> None:
    ratios = flow_ratios(figures(500.0, 1.8), figures(1250.0, 0.3))
    assert ratios == {"events_per_s": 0.4, "cpu_s_per_1000": 6.0}


def test_no_ratio_without_a_bare_figure() -> None:
    ratios = flow_ratios(figures(500.0, 1.8), figures(0.0, 0.0))
    assert ratios == {"events_per_s": None, "cpu_s_per_1000": None}


def test_the_comparison_names_both_flows_and_the_ratios() -> None:
    worker, bare = figures(500.0, 1.8), figures(1250.0, 0.3)
    text = comparison(
        {"flows": {"worker": worker, "bare": bare}, "ratios": flow_ratios(worker, bare)}
    )
    lines = text.splitlines()
    assert lines[0].split(":")[0].strip() == "worker"
    assert "500.0 events/s" in lines[0]
    assert "0.3 CPU-s per 1,000" in lines[1]
    assert lines[2] == "worker/bare: deliveries/s 0.4, CPU-s per delivered event 6.0"


@pytest.mark.parametrize(
    ("flow", "with_bare", "expected"),
    [("worker", False, ("worker",)), ("bare", False, ("bare",)), ("worker", True, FLOWS)],
)
def test_the_flows_of_one_drain(flow: str, with_bare: bool, expected: tuple[str, ...]) -> None:
    assert flows_of(argparse.Namespace(flow=flow, with_bare=with_bare)) == expected
    assert FLOWS[0] == "worker"  # --with-bare: the worker first, as drains always ran
