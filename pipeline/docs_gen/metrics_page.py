"""docs/reference/metrics.md: the pipeline's Prometheus metrics, from their definitions."""

from __future__ import annotations

import importlib

from prometheus_client.metrics import MetricWrapperBase

from pipeline.docs_gen.markdown import code, header, table
from pipeline.settings import REPO_ROOT

INTRO = (
    "Every process serves `GET /metrics` in the Prometheus text format. The pipeline's own "
    "metrics follow Prometheus conventions: the `pipeline_` prefix, base units (`_seconds`, "
    "`_bytes`), counters ending in `_total`, and labels from small fixed sets (never instance or "
    "event ids); faust's may be exposed beside them. The dashboards that chart them are listed "
    "in `grafana/README.md`; the alerts on them in [alert rules](alerts.md)."
)
SUFFIX = {"counter": "_total", "info": "_info"}


def render() -> str:
    rows = [
        (code(name), kind, ", ".join(code(label) for label in labels), help_text)
        for name, kind, labels, help_text in definitions()
    ]
    body = table(("metric", "type", "labels", "meaning"), rows)
    return header("Metrics", "`pipeline/metrics.py`", INTRO) + "\n" + body


def definitions() -> list[tuple[str, str, tuple[str, ...], str]]:
    """(exposed name, type, label names, help) of every metric under `pipeline/*metrics*.py`."""
    found = []
    for path in sorted(REPO_ROOT.glob("pipeline/**/*metrics*.py")):
        module = importlib.import_module(
            ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        )
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                kind = str(value._type)
                name = str(value._name) + SUFFIX.get(kind, "")
                labels = tuple(str(label) for label in value._labelnames)
                found.append((name, kind, labels, str(value._documentation)))
    return found
