"""bench/soak/config.py: the kinds of the rounds and the command line."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.soak.config import (
    BROKER,
    INGRESS,
    POLLER,
    WORKER,
    WORKER_OF_TWO,
    SoakConfig,
    from_args,
)


def test_twenty_rounds_hold_every_kind_the_soak_promises() -> None:
    kinds = Counter(SoakConfig(rounds=20).schedule())

    assert kinds[WORKER] >= 8
    assert kinds[WORKER_OF_TWO] >= 4
    assert kinds[INGRESS] >= 2
    assert kinds[POLLER] >= 2
    assert kinds[BROKER] >= 2
    assert sum(kinds.values()) == 20


def test_three_rounds_kill_a_worker_one_of_two_workers_and_the_broker() -> None:
    assert SoakConfig(rounds=3).schedule() == [WORKER, WORKER_OF_TWO, BROKER]


def test_given_kinds_are_cycled() -> None:
    config = from_args(["--rounds", "5", "--kinds", "poller,ingress"])

    assert config.schedule() == [POLLER, INGRESS, POLLER, INGRESS, POLLER]


def test_a_seed_makes_a_run_repeatable() -> None:
    assert from_args(["--seed", "42"]).seed == 42
    assert from_args([]).seed != 0


@pytest.mark.parametrize("argv", [["--kinds", "worker,router"], ["--rounds", "0"]])
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        from_args(argv)


def test_retry_delays_are_parsed() -> None:
    assert SoakConfig(retry_schedule="2,5,10").retry_delays == (2.0, 5.0, 10.0)
