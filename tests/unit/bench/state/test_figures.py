"""bench/state/figures.py: the keys `python -m bench state` writes, what it reads, its figures."""

from __future__ import annotations

from typing import Any

import pytest

from bench.state.figures import (
    MIB,
    Recovery,
    bytes_per_event,
    dedup_key,
    growth_by_part,
    key_batch,
    recoveries,
    recovery_figures,
    sample_due,
    split_keys,
    table_figures,
    table_lines,
)


def sample(keys: int, rss_mib: float, disk_bytes: int = 0) -> dict[str, Any]:
    return {
        "keys": keys,
        "seconds": keys / 1000,
        "rss_kib": int(rss_mib * 1024),
        "disk_bytes": disk_bytes,
        "cur-size-all-mem-tables": 0,
        "block-cache-usage": 0,
        "estimate-table-readers-mem": 0,
    }


def test_keys_are_unique_per_run_and_shaped_as_the_normalize_agents() -> None:
    keys = {dedup_key("t1", number) for number in range(10_000)}
    assert len(keys) == 10_000
    assert dedup_key("t1", 5) == dedup_key("t1", 5)
    assert dedup_key("t1", 5) != dedup_key("t2", 5)  # another run's keys are new keys
    source, event_id = dedup_key("t1", 5).split(" ")
    assert source == "oktopost/bench-t1"
    assert len(event_id) == 36  # a uuid, as `pipeline.events.cloudevent.event_id`


def test_a_batch_carries_its_range_of_keys_and_splits_back() -> None:
    value = key_batch("t1", 2000, 3)
    assert split_keys(value) == [dedup_key("t1", n) for n in (2000, 2001, 2002)]
    assert split_keys(b"") == []


@pytest.mark.parametrize(
    ("before", "after", "due"),
    [
        (0, 2000, False),
        (248_000, 250_000, True),  # reaches a multiple
        (249_000, 251_000, True),  # passes one
        (250_000, 252_000, False),
        (298_000, 300_000, True),  # the total, not a multiple
        (300_000, 302_000, False),  # past the total: once is enough
    ],
)
def test_a_sample_is_due_at_each_multiple_and_at_the_total(
    before: int, after: int, due: bool
) -> None:
    assert sample_due(before, after, every=250_000, total=300_000) is due


def test_recovery_lines_are_read_from_the_log_in_order() -> None:
    log = (
        "[2026-12-06 21:07:30] table delivered recovered: 0 changelog records applied, "
        "0.2 s since the rebalance\n"
        "[2026-12-06 21:07:31] table dedup recovered: 30000 changelog records applied, "
        "3.9 s since the rebalance\n"
    )
    assert recoveries(log) == [Recovery("delivered", 0, 0.2), Recovery("dedup", 30000, 3.9)]
    assert recoveries("table dedup: expired keys older than 604800 s") == []


def test_growth_is_counted_from_the_first_warm_sample_to_the_last() -> None:
    samples = [
        sample(500_000, 150.0),
        sample(1_000_000, 170.0),  # warm: the caches full
        sample(2_000_000, 172.0),
        sample(3_000_000, 174.0, disk_bytes=300 * MIB),
    ]
    figures = table_figures(samples, warm_keys=1_000_000)
    assert figures["warm_keys"] == 1_000_000
    assert figures["rss_growth_warm_to_end_mib"] == 4.0
    assert figures["rss_mib_per_million_keys"] == 2.0
    assert figures["rss_slope_mib_per_million_keys"] == 2.0
    assert figures["rss_peak_mib"] == 174.0
    assert figures["disk_mib_per_million_keys"] == 100.0
    assert figures["disk_bytes_per_key"] == round(300 * MIB / 3_000_000, 1)
    assert figures["keys_per_s"] == 1000


def test_a_run_shorter_than_the_warm_up_counts_from_its_first_sample() -> None:
    figures = table_figures([sample(50_000, 100.0), sample(100_000, 101.0)], warm_keys=1_000_000)
    assert figures["warm_keys"] == 50_000
    assert figures["rss_growth_warm_to_end_mib"] == 1.0
    with pytest.raises(ValueError, match="no samples"):
        table_figures([])


def test_recovery_time_is_given_per_million_keys_held() -> None:
    figures = recovery_figures(Recovery("dedup", 5_000_000, 400.0), 5_000_000, 403.5)
    assert figures == {
        "records_applied": 5_000_000,
        "seconds_since_rebalance": 400.0,
        "seconds_from_process_start": 403.5,
        "seconds_per_million_keys": 80.0,
    }


def test_bytes_per_event_count_only_the_phases_after_the_first() -> None:
    # 3 MiB over the 3 phases after the first, 8,000 events each
    assert bytes_per_event([120.0, 121.0, 122.0, 123.0], 8000) == round(3 * MIB / 24_000, 1)
    assert bytes_per_event([120.0], 8000) is None


def test_the_tables_show_every_sample_and_restart() -> None:
    samples = [sample(250_000, 150.0, MIB), sample(500_000, 151.0, 2 * MIB)]
    results = {
        "table": {
            "samples": samples,
            "figures": table_figures(samples),
            "recovery": {
                "intact": recovery_figures(Recovery("dedup", 0, 0.1), 500_000, 2.0),
                "rebuilt": recovery_figures(Recovery("dedup", 500_000, 50.0), 500_000, 52.0),
            },
        },
        "pipeline": {
            "events_per_phase": 8000,
            "worker_rss_mib": [120.0, 121.0],
            "bytes_per_event_after_first": 131.1,
        },
    }
    text = "\n".join(table_lines(results))
    assert "| 500,000 | 151.0 | 2.0 |" in text
    assert "| rebuilt | 500,000 | 50.0 | 52.0 | 100.0 |" in text
    assert "120.0 → 121.0 MiB; 131.1 bytes per event" in text


def probe(rss_mib: float, memtables: int, cache: int, readers: int, free: int) -> dict[str, Any]:
    table = {
        "cur-size-all-mem-tables": memtables,
        "block-cache-usage": cache,
        "estimate-table-readers-mem": readers,
    }
    return {
        "rss_kib": int(rss_mib * 1024),
        "malloc_free_bytes": free,
        "tables": {"dedup": table, "delivered": dict(table)},
    }


def test_growth_is_split_into_rocksdb_malloc_and_the_rest() -> None:
    first = probe(100.0, memtables=0, cache=0, readers=0, free=0)
    # RSS +4 MiB over 1,024 events: each table's memtables +1 MiB, cache +0.5 MiB, readers +1 kiB
    last = probe(104.0, memtables=MIB, cache=MIB // 2, readers=1024, free=MIB // 2)
    grown = growth_by_part(first, last, events=1024)
    assert grown["rss"] == 4096.0
    assert grown["cur-size-all-mem-tables"] == 2048.0
    assert grown["block-cache-usage"] == 1024.0
    assert grown["estimate-table-readers-mem"] == 2.0
    assert grown["malloc_free"] == 512.0
    assert grown["other"] == 4096.0 - 2048.0 - 1024.0 - 2.0 - 512.0
