"""docs/reference/alerts.md: the Prometheus alert rules, from `deploy/prometheus/alerts.yml`."""

from __future__ import annotations

from typing import Any

import yaml

from pipeline.docs_gen.markdown import header
from pipeline.settings import REPO_ROOT

SOURCE = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
INTRO = (
    "Prometheus loads these rules from `deploy/prometheus/alerts.yml` (`docker compose up` does); "
    "`promtool` checks and unit-tests them in `make test`. Each names the Grafana dashboard "
    "where the problem shows. What to do about each: the [operations guide](../how-to/operate.md)."
)


def render() -> str:
    sections = [header("Alert rules", "`deploy/prometheus/alerts.yml`", INTRO)]
    for group in rules_file()["groups"]:
        sections.append(f"## {group['name']}\n")
        sections += [_rule(rule) for rule in group["rules"]]
    return "\n".join(sections)


def rules_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SOURCE.read_text())
    return loaded


def _rule(rule: dict[str, Any]) -> str:
    annotations = rule.get("annotations", {})
    facts = [f"severity `{rule.get('labels', {}).get('severity', '-')}`"]
    if "for" in rule:
        facts.append(f"for `{rule['for']}`")
    parts = [
        f"### {rule['alert']}\n",
        f"{annotations.get('summary', '')} ({', '.join(facts)})\n",
        " ".join(str(annotations.get("description", "")).split()) + "\n",
        f"```promql\n{str(rule['expr']).strip()}\n```\n",
    ]
    return "\n".join(parts)
