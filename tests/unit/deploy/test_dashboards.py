"""The Grafana dashboards and alert rules name only metrics the code defines, and chart them all.

Metric names come from prometheus_client's default registry after importing every
`pipeline/**/*metrics*.py` module, so metrics other modules add are found without a list here.
The helpers are reused by tests/integration/test_prometheus.py, which runs the queries for real.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from pipeline.settings import REPO_ROOT

DASHBOARDS = {
    path.stem: json.loads(path.read_text()) for path in REPO_ROOT.glob("grafana/dashboards/*.json")
}
STABLE_UIDS = {
    "overview": "pipeline-overview",
    "delivery": "pipeline-delivery",
    "providers": "pipeline-providers",
}
ALERTS = yaml.safe_load((REPO_ROOT / "deploy/prometheus/alerts.yml").read_text())
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PROMETHEUS_SERIES = {"up"}  # written by Prometheus itself for every target
# Exposed sample names of each metric type (prometheus_client drops `_total` from a family's name).
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan"}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def id(self) -> str:
        return f"{self.dashboard}/{self.panel}/{self.ref}"


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included; rows themselves are not panels."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_queries() -> list[Query]:
    return [
        Query(name, panel["title"], target["refId"], target["expr"])
        for name, dashboard in sorted(DASHBOARDS.items())
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variable_queries() -> list[Query]:
    """`label_values(...)` template variables, as Query with the variable name as panel."""
    return [
        Query(name, f"${variable['name']}", "var", variable["definition"])
        for name, dashboard in sorted(DASHBOARDS.items())
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]


def alert_exprs() -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for group in ALERTS["groups"] for rule in group["rules"]}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a `label_values(metric, label)`) selects."""
    variables = re.fullmatch(r"\s*label_values\((.*)\)\s*", expr)
    if variables:
        arguments = variables.group(1).split(",")
        expr = arguments[0] if len(arguments) == 2 else ""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)  # label matchers, range windows
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][\w:]*", text):
        is_call = text[match.end() :].lstrip().startswith("(")
        if not is_call and match.group().lower() not in _KEYWORDS:
            names.add(match.group())
    return names


def registered_series() -> dict[str, str]:
    """Exposed sample name → metric family name, for every metric the pipeline defines."""
    for path in sorted(REPO_ROOT.glob("pipeline/**/*metrics*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        importlib.import_module(module)
    return {
        family.name + suffix: family.name
        for family in REGISTRY.collect()
        for suffix in SUFFIXES[family.type]
    }


def pipeline_families() -> dict[str, str]:
    """Family name → the name people write (`…_total`, `…_seconds`, `…_info`), `pipeline_*` only."""
    registered_series()
    return {
        family.name: family.name + {"counter": "_total", "info": "_info"}.get(family.type, "")
        for family in REGISTRY.collect()
        if family.name.startswith("pipeline_")
    }


def not_charted() -> dict[str, str]:
    """grafana/README.md's "Not charted" section: `- \\`metric\\` — reason` per line."""
    text = (REPO_ROOT / "grafana/README.md").read_text()
    section = re.search(r"^## Not charted\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, 'grafana/README.md has no "## Not charted" section'
    entries = re.findall(r"^- `(\w+)` — (\S.*)$", section.group(1), re.MULTILINE)
    return dict(entries)


def charted_families() -> set[str]:
    series = registered_series()
    exprs = [query.expr for query in (*panel_queries(), *variable_queries())]
    return {series[name] for expr in exprs for name in metric_names(expr) if name in series}


def test_dashboards_have_their_stable_uids() -> None:
    assert {name: board["uid"] for name, board in DASHBOARDS.items()} == STABLE_UIDS
    assert len({board["title"] for board in DASHBOARDS.values()}) == len(DASHBOARDS)


@pytest.mark.parametrize("name", sorted(STABLE_UIDS))
def test_dashboard_structure(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert dashboard["schemaVersion"] >= 39
    source = dashboard["templating"]["list"][0]
    assert (source["name"], source["type"], source["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = [panel["title"] for panel in panels(dashboard)]
    assert len(titles) == len(set(titles)), "panel titles name the queries in test ids"
    for panel in panels(dashboard):
        assert panel["targets"], f"{panel['title']} has no query"
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert all(target["datasource"] == DATASOURCE for target in panel["targets"])
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"], f"{panel['title']} has no unit"
        assert defaults["thresholds"]["steps"], f"{panel['title']} has no thresholds"
        assert panel.get("description"), f"{panel['title']} has no description"


@pytest.mark.parametrize("query", panel_queries(), ids=lambda query: query.id)
def test_counters_and_histograms_are_aggregated_with_rate_over_dashboard_windows(
    query: Query,
) -> None:
    for name in metric_names(query.expr):
        if name.endswith(("_total", "_bucket")):
            uses = re.findall(rf"(\w+)\(\s*{name}\b", query.expr)
            assert uses, f"{name} is not inside rate() or increase()"
            assert set(uses) <= {"rate", "increase"}, f"{name} inside {uses}"
    windows = set(re.findall(r"\[([^\]]+)\]", query.expr))
    assert windows <= {"$__rate_interval", "$__range"}, f"fixed windows {windows}"


def test_every_metric_a_dashboard_or_alert_names_is_defined() -> None:
    series = registered_series()
    exprs = {q.id: q.expr for q in (*panel_queries(), *variable_queries())}
    exprs |= {f"alert {name}": expr for name, expr in alert_exprs().items()}
    unknown = {
        where: sorted(metric_names(expr) - set(series) - PROMETHEUS_SERIES)
        for where, expr in exprs.items()
    }
    assert {where: names for where, names in unknown.items() if names} == {}


def test_every_defined_metric_is_charted_or_listed_as_not_charted() -> None:
    families = pipeline_families()
    listed = not_charted()
    charted = charted_families()
    missing = {canonical for family, canonical in families.items() if family not in charted}
    assert missing - set(listed) == set(), "chart these or list them under 'Not charted'"
    listed_families = {registered_series().get(name) for name in listed}
    assert None not in listed_families, f"'Not charted' names unknown metrics: {listed}"
    assert listed_families & charted == set(), "'Not charted' lists metrics that are charted"


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, provider) (rate(a_bucket{provider=~"$p"}'
        "[$__rate_interval]))) / on (job) group_left (version) b_info and up offset 5m"
    )
    assert metric_names(expr) == {"a_bucket", "b_info", "up"}
    assert metric_names("label_values(c_total, subscription)") == {"c_total"}
    assert metric_names("label_values(provider)") == set()


def test_every_defined_metric_is_documented() -> None:
    text = (REPO_ROOT / "grafana/README.md").read_text()
    undocumented = [name for name in pipeline_families().values() if f"| `{name}` |" not in text]
    assert undocumented == [], "add these to grafana/README.md's metric tables"
