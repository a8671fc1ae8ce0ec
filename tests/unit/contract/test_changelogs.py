"""pipeline.contract.changelogs: the tables' changelog topics follow the window."""

from __future__ import annotations

from pipeline.contract.changelogs import changelog_config, changelog_specs
from pipeline.contract.topics import Topic, topic_spec
from pipeline.settings import load_settings


def test_the_changelog_keeps_two_windows_compacted_in_window_long_segments() -> None:
    assert changelog_config(3600.0) == {
        "cleanup.policy": "compact,delete",
        "retention.ms": "7200000",
        "segment.ms": "3600000",
    }


def test_each_table_changelog_is_named_as_faust_names_it_and_partitioned_as_its_source() -> None:
    settings = load_settings(app_id="app", dedup_window="1d")
    dedup, delivered = changelog_specs(settings)
    assert (dedup.name, delivered.name) == ("app-dedup-changelog", "app-delivered-changelog")
    assert dedup.partitions == topic_spec(settings, Topic.WEBHOOKS_RAW).partitions
    assert delivered.partitions == topic_spec(settings, Topic.DELIVERIES).partitions
    assert dedup.configs() == changelog_config(86400.0)
    assert dedup.retention_ms == 2 * 86400 * 1000
