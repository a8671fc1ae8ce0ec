from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import LocalKafkaError, MissingToolError
from pipeline.ops.local_kafka import LocalKafka
from pipeline.settings import REPO_ROOT, load_settings

# `spawn` from a parent whose soft limit of open files is low, a stand-in printing its limits in
# place of the JVM (it gets the broker's arguments too, and ignores them).
SPAWN_WITH_A_LOW_SOFT_LIMIT = """
import os, resource, sys
from pathlib import Path
from pipeline.ops.local_kafka import LocalKafka

_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
PRINT_LIMITS = "import resource; print(*resource.getrlimit(resource.RLIMIT_NOFILE))"

class StandIn(LocalKafka):
    def ensure_jars(self): pass
    def ensure_storage(self): self.home.mkdir(parents=True)
    def _java(self): return [sys.executable, "-c", PRINT_LIMITS]

print(*resource.getrlimit(resource.RLIMIT_NOFILE))
os.waitpid(StandIn(home=Path(sys.argv[1])).spawn(), 0)
"""


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


def test_the_broker_runs_with_its_soft_limit_of_open_files_raised_to_the_hard_limit(
    tmp_path: Path,
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"the hard limit of open files here ({hard}) leaves nothing to raise")
    home = tmp_path / "home"
    parent = subprocess.run(
        [sys.executable, "-c", SPAWN_WITH_A_LOW_SOFT_LIMIT, str(home)],
        capture_output=True, text=True, check=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert parent.stdout.split() == ["256", str(hard)]
    assert (home / "console.log").read_text().split() == [str(hard), str(hard)]
