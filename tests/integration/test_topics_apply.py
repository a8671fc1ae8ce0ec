"""`pipeline topics apply` against the real broker: creates, is idempotent, reports drift."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.contract.topics import load_manifest
from pipeline.ops.topics_apply import Outcome, apply_topics
from pipeline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.integration


async def test_apply_creates_then_is_a_no_op(settings: Settings) -> None:
    specs = load_manifest(settings)
    first = await apply_topics(settings.kafka_bootstrap, specs)
    assert [r.outcome for r in first] == [Outcome.CREATED] * len(specs)
    second = await apply_topics(settings.kafka_bootstrap, specs)
    assert [r.outcome for r in second] == [Outcome.UNCHANGED] * len(specs)


async def test_a_partition_difference_is_reported_not_applied(settings: Settings) -> None:
    specs = load_manifest(settings)
    await apply_topics(settings.kafka_bootstrap, specs)
    raw = next(spec for spec in specs if spec.name.endswith("webhooks.raw"))
    changed = [dataclasses.replace(raw, partitions=raw.partitions * 2)]
    [report] = await apply_topics(settings.kafka_bootstrap, changed)
    assert report.outcome is Outcome.DIFFERS
    assert report.differences == (
        f"partitions {raw.partitions} on the cluster, {raw.partitions * 2} in manifest",
    )
    [again] = await apply_topics(settings.kafka_bootstrap, [raw])
    assert again.outcome is Outcome.UNCHANGED  # nothing was changed on the cluster


def test_the_command_reports_drift_and_exits_1(settings: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PIPELINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PIPELINE_TOPIC_PREFIX": settings.topic_prefix,
        "PIPELINE_APP_ID": settings.app_id,
    }
    command = [sys.executable, "-m", "pipeline", "topics", "apply"]
    created = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    assert f"{settings.topic_prefix}webhooks.raw: created" in created.stdout

    shutil.copytree(REPO_ROOT / "topics", tmp_path / "topics")
    manifest = tmp_path / "topics" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('retention = "30d"', 'retention = "31d"'))
    env["PIPELINE_TOPICS_DIR"] = str(tmp_path / "topics")
    drift = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert drift.returncode == 1
    assert f"{settings.topic_prefix}events.normalized: differs (left as is): retention.ms" in (
        drift.stdout
    )
    assert "webhooks.raw: unchanged" in drift.stdout


def test_the_tables_changelogs_follow_the_window(settings: Settings) -> None:
    """Created with the window's retention; a changelog made under another window (or by faust's
    windowed tables) is reported, not changed."""
    env = {
        **os.environ,
        "PIPELINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PIPELINE_TOPIC_PREFIX": settings.topic_prefix,
        "PIPELINE_APP_ID": settings.app_id,
        "PIPELINE_DEDUP_WINDOW": "1h",
    }
    command = [sys.executable, "-m", "pipeline", "topics", "apply"]
    created = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    assert f"{settings.app_id}-dedup-changelog: created" in created.stdout
    assert f"{settings.app_id}-delivered-changelog: created" in created.stdout
    env["PIPELINE_DEDUP_WINDOW"] = "2h"
    drift = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert drift.returncode == 1
    assert (
        f"{settings.app_id}-dedup-changelog: differs (left as is): "
        "retention.ms 7200000 on the cluster, 14400000 in manifest"
    ) in drift.stdout
