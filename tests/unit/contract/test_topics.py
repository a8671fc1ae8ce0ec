"""`pipeline.contract.topics`: the constants, the manifest's facts, and their agreement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from pipeline.contract.topics import (
    Topic,
    delivery_tier,
    load_manifest,
    retry_topic,
    retry_topics,
    topic_spec,
)
from pipeline.errors import ConfigError
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
        "websub.leases",
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
    specs = {spec.name: spec for spec in load_manifest(load_settings(topic_prefix=""))}
    counts = {specs[name].partitions for name in ("webhooks.raw", "polls.raw", "events.normalized")}
    assert len(counts) == 1
    tasks = {specs[name].partitions for name in ("deliveries", "deliveries.retry.1")}
    assert len(tasks) == 1


def test_every_spec_names_the_constant_declaring_it() -> None:
    specs = load_manifest(load_settings(topic_prefix="p.", retry_schedule="5,25"))
    declared = {spec.name: spec.declared for spec in specs}
    assert declared["p.webhooks.raw"] is Topic.WEBHOOKS_RAW
    assert declared["p.deliveries.retry.2"] is Topic.DELIVERIES_RETRY
    assert set(declared.values()) == set(Topic)


def test_topic_spec_gives_the_manifest_facts() -> None:
    settings = load_settings(topic_prefix="p.")
    raw = topic_spec(settings, Topic.WEBHOOKS_RAW)
    assert (raw.name, raw.key, raw.partitions, raw.cleanup) == (
        "p.webhooks.raw",
        "instance id",
        4,
        "delete",
    )
    assert raw.value_schema == settings.topics_dir / "schemas/webhook-envelope.json"
    assert topic_spec(settings, Topic.POLLERS_SHARDS).partitions == 12
    assert topic_spec(settings, Topic.DELIVERIES_RETRY).name == "p.deliveries.retry.1"


def test_retry_tiers_are_named_from_the_template() -> None:
    assert retry_topic(2) == "deliveries.retry.2"
    assert retry_topics(load_settings(retry_schedule="1,2,3,4")) == [
        f"deliveries.retry.{tier}" for tier in (1, 2, 3, 4)
    ]
    assert [delivery_tier(name) for name in ("deliveries", "deliveries.retry.12")] == [0, 12]
    assert delivery_tier("deliveries.dead") is None
    assert delivery_tier("deliveries.retry.") is None


def _manifest_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "topics", tmp_path / "topics")
    return tmp_path / "topics" / "manifest.toml"


def test_a_manifest_topic_without_a_constant_is_refused(tmp_path: Path) -> None:
    manifest = _manifest_copy(tmp_path)
    extra = """
[[topic]]
name = "events.extra"
key = "id"
partitions = 1
cleanup = "delete"
retention = "1d"
"""
    manifest.write_text(manifest.read_text() + extra)
    with pytest.raises(ConfigError, match=r"events\.extra has no constant in .*Topic"):
        load_manifest(load_settings(topics_dir=tmp_path / "topics"))


def test_a_constant_without_a_manifest_topic_is_refused(tmp_path: Path) -> None:
    manifest = _manifest_copy(tmp_path)
    text = manifest.read_text()
    manifest.write_text(text[: text.index('[[topic]]\nname = "pollers.shards"')])
    with pytest.raises(
        ConfigError, match=r"Topic\.POLLERS_SHARDS \(pollers\.shards\) is not declared"
    ):
        load_manifest(load_settings(topics_dir=tmp_path / "topics"))


def test_a_topic_declared_twice_is_refused(tmp_path: Path) -> None:
    manifest = _manifest_copy(tmp_path)
    text = manifest.read_text()
    manifest.write_text(text + text[text.index('[[topic]]\nname = "pollers.shards"') :])
    with pytest.raises(ConfigError, match=r"pollers\.shards is declared twice"):
        load_manifest(load_settings(topics_dir=tmp_path / "topics"))


def test_a_tier_template_needs_per_retry_tier(tmp_path: Path) -> None:
    manifest = _manifest_copy(tmp_path)
    manifest.write_text(manifest.read_text().replace("per_retry_tier = true\n", ""))
    with pytest.raises(ConfigError, match="needs per_retry_tier"):
        load_manifest(load_settings(topics_dir=tmp_path / "topics"))


@pytest.mark.parametrize("schema", sorted((REPO_ROOT / "topics").rglob("*.json")), ids=str)
def test_every_schema_is_valid_json_schema(schema: Path) -> None:
    Draft202012Validator.check_schema(json.loads(schema.read_text()))


def test_a_bad_manifest_is_refused_with_the_topic_named(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "topics", tmp_path / "topics")
    manifest = tmp_path / "topics" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('cleanup = "compact"', 'cleanup = "shred"', 1))
    with pytest.raises(ConfigError, match=r"config\.instances cleanup must be"):
        load_manifest(load_settings(topics_dir=tmp_path / "topics"))
