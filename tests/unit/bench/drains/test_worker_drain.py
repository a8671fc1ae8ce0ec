"""bench/drains/worker_drain.py: the drain's figures, its spread over partitions, its meters."""

from __future__ import annotations

from collections import Counter

import pytest
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter

from bench.drains.worker_drain import (
    DrainMeter,
    Received,
    drain_figures,
    machine_jiffies,
    spread_routes,
    worker_counts,
)

PARTITIONS = [0, 1, 2, 3]  # of `webhooks.raw` and `deliveries` (topics/manifest.toml)


def partition_of(key: str) -> int:
    """Where the producer puts a record with this key (aiokafka's default partitioner)."""
    return int(DefaultPartitioner()(key.encode(), PARTITIONS, PARTITIONS))


def test_figures_count_rate_repeats_and_pauses() -> None:
    arrived = [10.0, 10.1, 10.2, 11.0, 11.1]  # a 0.8 s pause before the fourth delivery
    received = Counter({"a": 1, "b": 2, "c": 1, "d": 1})  # b came twice
    figures = drain_figures(arrived, received, {"a", "b", "c", "d", "e"}, 8.0, cpu=2.5)
    assert figures["events_expected"] == 5
    assert figures["events_delivered"] == 4  # e never came
    assert figures["repeats"] == 1
    assert figures["start_to_first_delivery_s"] == 2.0
    assert figures["drain_s"] == 1.1
    assert figures["events_per_s"] == round(5 / 1.1, 1)
    assert figures["worker_cpu_s_per_1000"] == 500.0
    assert figures["longest_gap_s"] == 0.8
    assert figures["gaps_over_0_5_s"] == [(1.0, 0.8)]


def test_no_delivery_at_all_is_reported_not_divided_by_zero() -> None:
    figures = drain_figures([], Counter(), {"a"}, 3.0, cpu=0.0)
    assert figures["events_delivered"] == 0
    assert figures["events_per_s"] == 0.0
    assert figures["gaps_over_0_5_s"] == []


def test_a_full_spread_puts_one_of_each_id_on_every_partition() -> None:
    routes = spread_routes("abc123", 4)
    for column in ("subscription_id", "oktopost_id", "hootsuite_id"):
        ids = [getattr(route, column) for route in routes]
        assert sorted(partition_of(i) for i in ids) == PARTITIONS, column


def test_routes_share_no_instance_so_each_event_goes_to_one_subscription() -> None:
    routes = spread_routes("abc123", 3)
    instances = [i for route in routes for i in (route.oktopost_id, route.hootsuite_id)]
    assert len(set(instances)) == len(instances) == 6
    assert len({route.subscription_id for route in routes}) == 3


@pytest.mark.parametrize("count", [0, 5])
def test_a_spread_beyond_the_partitions_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="1 to 4"):
        spread_routes("abc123", count)


def test_counts_come_from_the_workers_metrics_page() -> None:
    registry = CollectorRegistry()
    normalized = PromCounter(
        "pipeline_events_normalized_total", "", ["provider", "type"], registry=registry
    )
    attempts = PromCounter(
        "pipeline_delivery_attempts_total",
        "",
        ["subscription", "outcome", "status_class"],
        registry=registry,
    )
    normalized.labels("oktopost", "post.sent").inc(5)
    normalized.labels("hootsuite", "message.sent").inc(2)
    attempts.labels("sub-1", "delivered", "2xx").inc(6)
    attempts.labels("sub-2", "delivered", "2xx").inc(1)
    attempts.labels("sub-1", "retry", "5xx").inc(3)  # not a delivery
    counts = worker_counts(generate_latest(registry).decode())
    assert counts == {"normalized": 7, "delivered": 7}


def test_busy_jiffies_leave_out_idle_and_iowait() -> None:
    stat = "cpu  100 5 20 1000 30 1 2 3 7 0\ncpu0 50 2 10 500 15 0 1 1 3 0\n"
    assert machine_jiffies(stat) == (131, 1161)


def test_the_meter_counts_from_the_first_delivery() -> None:
    meter = DrainMeter({"worker-drain": 1, "receiver": 2})
    meter.latest = {"worker-drain": 4.0, "receiver": 1.0}
    meter.machine = (500, 1000)
    assert meter.used() == {"worker-drain": 4.0, "receiver": 1.0}  # no delivery: all of it
    assert meter.machine_busy() is None
    meter.mark_first()
    meter.latest = {"worker-drain": 10.5, "receiver": 2.0}
    meter.machine = (1400, 2000)
    assert meter.used() == {"worker-drain": 6.5, "receiver": 1.0}
    assert meter.machine_busy() == 0.9


def test_received_counts_unsigned_deliveries_and_moves_on() -> None:
    received = Received()
    received.add({"next": 2, "arrived": [1.0, 1.1], "event_ids": ["a", "b"], "signed": [1, 1]})
    received.add({"next": 3, "arrived": [1.2], "event_ids": ["a"], "signed": [False]})
    assert received.next == 3
    assert received.arrived == [1.0, 1.1, 1.2]
    assert received.event_ids == Counter({"a": 2, "b": 1})
    assert received.unsigned == 1
