"""pipeline.ingress.processes: a member's `/metrics` sums every member's counts; a member knows
whether its parent is still the one that started it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.ingress.processes import render_all_members

COUNT = """
from prometheus_client import Counter
Counter("unit_member_requests", "requests", ["provider"]).labels("oktopost").inc({n})
"""


def test_the_metrics_of_every_member_are_summed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (2, 5):  # two member processes, each counting in its own file
        subprocess.run([sys.executable, "-c", COUNT.format(n=n)], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body, content_type = render_all_members()
    assert content_type.startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    assert samples[("unit_member_requests_total", (("provider", "oktopost"),))] == 7.0


def test_die_with_parent_says_whether_the_parent_is_the_one_named() -> None:
    """In a child of this process: the death signal it asks for is not this test runner's."""
    check = (
        "import os; from pipeline.ingress.processes import die_with_parent; "
        f"print(die_with_parent({os.getpid()}), die_with_parent(os.getpid()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["True", "False"]  # its parent; not its own parent
