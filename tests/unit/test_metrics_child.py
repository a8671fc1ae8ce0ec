"""pipeline.metrics.child: a labelled child looked up once."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from pipeline import metrics


def test_the_child_is_the_labelled_one_and_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = Counter("child_test_total", "t", ["subscription"], registry=CollectorRegistry())
    looked_up: list[tuple[str, ...]] = []
    labels = counter.labels

    def counting(*values: str) -> Any:
        looked_up.append(values)
        return labels(*values)

    monkeypatch.setattr(counter, "labels", counting)
    for _ in range(3):
        metrics.child(counter, "sub_1").inc()
    assert labels("sub_1")._value.get() == 3
    assert looked_up == [("sub_1",)]
