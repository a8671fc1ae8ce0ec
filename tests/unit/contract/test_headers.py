"""pipeline.contract.headers: the headers each topic's records carry, from the manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import declared_topics, load_manifest
from pipeline.errors import ConfigError
from pipeline.settings import REPO_ROOT, load_settings

# The CloudEvents Kafka protocol binding 1.0.2, structured mode: the JSON event format's type.
STRUCTURED_JSON = "application/cloudevents+json; charset=utf-8"


def test_the_normalized_topic_is_declared_in_structured_mode_and_the_rest_as_json() -> None:
    declared = declared_topics(REPO_ROOT / "topics")
    assert dict(declared["events.normalized"].headers) == {"content-type": STRUCTURED_JSON}
    written = [topic for topic in declared.values() if topic.written_by]
    assert len(written) == len(declared) - 1  # pollers.shards holds no records
    for topic in written:
        if topic.name != "events.normalized":
            assert dict(topic.headers) == {"content-type": "application/json"}, topic.name


def test_every_cluster_side_topic_has_its_list_encoded_once() -> None:
    settings = load_settings(topic_prefix="team.", retry_schedule="1,2,3,4")
    headers = RecordHeaders.from_manifest(settings)
    assert set(headers.by_topic) == {spec.name for spec in load_manifest(settings)}
    assert headers.of("team.events.normalized", b"{}") == [
        ("content-type", STRUCTURED_JSON.encode())
    ]
    assert headers.of("team.deliveries.retry.4", b"{}") == [("content-type", b"application/json")]
    # The same list every time: a send passes it on, nothing is built per record.
    assert headers.of("team.deliveries", b"{}") is headers.of("team.deliveries", b"[]")


def test_a_tombstone_carries_no_headers() -> None:
    headers = RecordHeaders.from_manifest(load_settings())
    assert headers.of("config.instances", None) is None


def test_a_topic_the_manifest_does_not_declare_is_refused() -> None:
    headers = RecordHeaders.from_manifest(load_settings(topic_prefix="team."))
    with pytest.raises(ConfigError, match=r"^events\.normalized is not declared"):
        headers.of("events.normalized", b"{}")  # without the prefix: another topic


def test_headers_that_are_not_strings_are_refused(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "topics", tmp_path / "topics")
    manifest = tmp_path / "topics" / "manifest.toml"
    manifest.write_text(
        manifest.read_text().replace(
            'headers = { content-type = "application/json" }', "headers = { content-type = 1 }", 1
        )
    )
    with pytest.raises(ConfigError, match=r"webhooks\.raw headers must be a table of strings"):
        load_manifest(load_settings(topics_dir=tmp_path / "topics"))
