"""pipeline.docs_gen: the committed reference pages are what the code generates now, and each
page lists every item of its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.contract.topics import load_manifest
from pipeline.docs_gen import (
    alerts_page,
    api_page,
    cli_page,
    events_page,
    metrics_page,
    settings_page,
    topics_page,
)
from pipeline.docs_gen.__main__ import main
from pipeline.docs_gen.pages import rendered, stale, write
from pipeline.events.types import EVENT_TYPES
from pipeline.ingress.openapi import operations
from pipeline.settings import Settings


def test_the_committed_reference_pages_are_current() -> None:
    outdated = [str(path) for path in stale(rendered())]
    assert outdated == [], "generated pages are stale: run `make docs-gen` and commit them"


def test_stale_pages_are_found_written_and_then_current(tmp_path: Path) -> None:
    pages = {tmp_path / "a.md": "new\n", tmp_path / "b.md": "same\n"}
    (tmp_path / "a.md").write_text("old\n")
    (tmp_path / "b.md").write_text("same\n")
    assert stale(pages) == [tmp_path / "a.md"]
    assert write(pages) == [tmp_path / "a.md"]
    assert stale(pages) == []


def test_check_says_which_command_regenerates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "pipeline.docs_gen.__main__.rendered", lambda: {tmp_path / "x.md": "text\n"}
    )
    monkeypatch.setattr("pipeline.docs_gen.__main__.REPO_ROOT", tmp_path)
    assert main(["--check"]) == 1
    out = capsys.readouterr()
    assert "stale x.md" in out.out
    assert "make docs-gen" in out.err
    assert not (tmp_path / "x.md").exists()


def test_settings_lists_every_variable_with_its_default() -> None:
    page = settings_page.render()
    for name, field in Settings.model_fields.items():
        assert f"| `PIPELINE_{name.upper()}` |" in page
        assert field.description, f"Settings.{name} has no description"
    assert "| `PIPELINE_RETRY_SCHEDULE` | `5,25,125` |" in page
    assert "| `PIPELINE_DATA_DIR` | `var/` |" in page
    assert "| `PIPELINE_ALLOW_PRIVATE_DESTINATIONS` | `false` |" in page


def test_cli_lists_every_command_and_its_arguments() -> None:
    page = cli_page.render()
    for name in ("run", "ingress", "worker", "poller", "kafka", "topics", "tail", "secrets"):
        assert f"## `pipeline {name}`" in page
    assert "`--from-beginning`" in page
    assert "--member-of" not in page  # internal, hidden from --help too


def test_the_api_page_lists_every_operation_and_its_error_codes() -> None:
    page = api_page.render()
    for operation in operations():
        assert f"### {operation.method.upper()} {operation.path}\n" in page
    assert "`invalid_signature`" in page
    assert "`code_refused`" in page


def test_the_catalog_lists_every_event_type() -> None:
    page = events_page.render()
    for event_type in EVENT_TYPES:
        assert f"\n## {event_type}\n" in page
    assert "| `post_id` | string | yes |" in page


def test_topics_lists_every_manifest_topic() -> None:
    page = topics_page.render()
    for spec in load_manifest(Settings.model_construct()):
        assert f"| `{spec.name}` |" in page
    assert "| `deliveries.retry.3` |" in page


def test_metrics_lists_every_pipeline_metric() -> None:
    page = metrics_page.render()
    names = [name for name, *_ in metrics_page.definitions()]
    assert "pipeline_ingress_requests_total" in names
    for name in names:
        assert f"| `{name}` |" in page


def test_alerts_lists_every_rule() -> None:
    page = alerts_page.render()
    rules = [r["alert"] for g in alerts_page.rules_file()["groups"] for r in g["rules"]]
    assert "PipelineWorkerStalled" in rules
    for alert in rules:
        assert f"### {alert}\n" in page
