"""bench/state/feed.py: the key batches stay a few records ahead of the table worker."""

from __future__ import annotations

from bench.state.feed import allowance


def test_the_feed_stays_at_most_ahead_records_beyond_the_committed() -> None:
    assert allowance(written=0, committed=0, total=100, ahead=8) == 8
    assert allowance(written=8, committed=0, total=100, ahead=8) == 0  # the worker is behind
    assert allowance(written=8, committed=5, total=100, ahead=8) == 5
    assert allowance(written=98, committed=97, total=100, ahead=8) == 2  # no more than the total
    assert allowance(written=100, committed=100, total=100, ahead=8) == 0
