from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from pipeline.errors import ConfigError
from pipeline.ops.manifest import load_manifest
from pipeline.settings import REPO_ROOT, load_settings

DESIGN_TOPICS = {
    "webhooks.raw",
    "polls.raw",
    "events.invalid",
    "events.normalized",
    "deliveries",
    "deliveries.dead",
    "deliveries.attempts",
    "config.instances",
    "config.subscriptions",
}


def test_every_design_topic_is_declared_with_one_retry_topic_per_delay() -> None:
    specs = load_manifest(load_settings(retry_schedule="5,25,125"))
    names = {spec.name for spec in specs}
    retries = {f"deliveries.retry.{tier}" for tier in (1, 2, 3)}
    assert names - DESIGN_TOPICS == retries | {
        "pollers.state",
        "instances.health",
        "pollers.credentials",
        "pollers.shards",
    }
    assert names >= DESIGN_TOPICS


def test_retry_topics_follow_the_schedule() -> None:
    specs = load_manifest(load_settings(retry_schedule="1,2,3,4,5"))
    assert sum(spec.name.startswith("deliveries.retry.") for spec in specs) == 5


def test_prefix_and_policies() -> None:
    specs = {spec.name: spec for spec in load_manifest(load_settings(topic_prefix="x."))}
    assert specs["x.config.instances"].cleanup == "compact"
    assert specs["x.config.instances"].retention_ms == -1
    assert specs["x.webhooks.raw"].configs() == {
        "cleanup.policy": "delete",
        "retention.ms": str(7 * 86400 * 1000),
    }


def test_co_partitioned_sources_share_a_partition_count() -> None:
    specs = {spec.name: spec for spec in load_manifest(load_settings())}
    counts = {specs[name].partitions for name in ("webhooks.raw", "polls.raw", "events.normalized")}
    assert len(counts) == 1


@pytest.mark.parametrize("schema", sorted((REPO_ROOT / "topics").rglob("*.json")), ids=str)
def test_every_schema_is_valid_json_schema(schema: Path) -> None:
    Draft202012Validator.check_schema(json.loads(schema.read_text()))


def test_a_bad_manifest_is_refused_with_the_topic_named(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "topics", tmp_path / "topics")
    manifest = tmp_path / "topics" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('cleanup = "compact"', 'cleanup = "shred"', 1))
    with pytest.raises(ConfigError, match=r"config\.instances cleanup must be"):
        load_manifest(load_settings(topics_dir=tmp_path / "topics"))
