from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import LocalKafkaError, MissingToolError
from pipeline.ops.local_kafka import LocalKafka
from pipeline.settings import load_settings


def test_missing_maven_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn, no java
    kafka = LocalKafka(home=tmp_path / "home", jar_cache=tmp_path / "no-jars-yet")
    with pytest.raises(MissingToolError, match=r"^`mvn` not found: install Maven"):
        kafka.ensure_jars()


def test_missing_java_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / ".complete").touch()
    monkeypatch.setenv("PATH", str(tmp_path))
    kafka = LocalKafka(home=tmp_path / "home", jar_cache=jars)
    with pytest.raises(MissingToolError, match=r"^`java` not found: install a Java 17\+ runtime"):
        kafka.spawn()


def test_ports_come_from_the_bootstrap_setting(tmp_path: Path) -> None:
    kafka = LocalKafka.from_settings(
        load_settings(kafka_bootstrap="127.0.0.1:19092", data_dir=tmp_path)
    )
    assert (kafka.port, kafka.controller_port, kafka.home) == (19092, 19093, tmp_path / "kafka")


def test_a_remote_cluster_is_not_started_locally() -> None:
    with pytest.raises(LocalKafkaError, match=r"only runs on 127\.0\.0\.1"):
        LocalKafka.from_settings(load_settings(kafka_bootstrap="kafka.internal:9092"))
