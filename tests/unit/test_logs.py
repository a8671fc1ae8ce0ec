from __future__ import annotations

import logging

import pytest

from pipeline.logs import RepeatFilter


def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("aiokafka.consumer.fetcher", level, __file__, 1, message, None, None)


def test_repeats_are_folded_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 1.0, 2.0, 3.0, 11.0])
    monkeypatch.setattr("pipeline.logs.time.monotonic", lambda: next(clock))
    folding = RepeatFilter(interval=10.0)
    passed = [folding.filter(r) for r in [record("Unable connect") for _ in range(4)]]
    assert passed == [True, False, False, False]
    summary = record("Unable connect")
    assert folding.filter(summary)
    assert summary.msg == "Unable connect (and 3 more like it in the last 10s)"


def test_other_messages_other_loggers_and_info_lines_pass() -> None:
    folding = RepeatFilter(interval=10.0)
    assert folding.filter(record("one"))
    assert folding.filter(record("two"))
    assert folding.filter(record("one", logging.INFO))
    ours = record("one")
    ours.name = "pipeline.ingress"
    assert folding.filter(ours)
