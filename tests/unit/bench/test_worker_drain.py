from collections import Counter

from bench.worker_drain import drain_figures


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
