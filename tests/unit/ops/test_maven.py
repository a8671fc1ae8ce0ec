"""pipeline.ops.maven: jars resolved once into the cache, never half; a failure in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.errors import LocalKafkaError
from pipeline.ops.maven import copy_dependencies

# Stands in for `mvn`: counts its runs, then writes one jar into -DoutputDirectory (or fails).
FAKE_MVN = """#!/bin/sh
echo run >> "{runs}"
[ -n "{fail}" ] && {{ echo "[ERROR] Could not resolve io.example:missing"; exit 1; }}
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${{arg#-DoutputDirectory=}}";; esac
done
mkdir -p "$out" && touch "$out/sdk.jar"
"""


def fake_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> Path:
    runs = tmp_path / "runs"
    mvn = tmp_path / "bin" / "mvn"
    mvn.parent.mkdir()
    mvn.write_text(FAKE_MVN.format(runs=runs, fail="yes" if fail else ""))
    mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{mvn.parent}{os.pathsep}{os.environ['PATH']}")
    return runs


def test_jars_land_in_the_cache_once_and_a_relative_folder_is_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = fake_maven(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    into = copy_dependencies(tmp_path / "pom.xml", Path("cache/sdk"), "the SDK")
    assert into == tmp_path / "cache" / "sdk"  # not under the POM's folder, where Maven puts it
    assert sorted(os.listdir(into)) == [".complete", "sdk.jar"]
    assert copy_dependencies(tmp_path / "pom.xml", into, "the SDK") == into
    assert runs.read_text().count("run") == 1


def test_a_failed_resolution_leaves_nothing_marked_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_maven(tmp_path, monkeypatch, fail=True)
    with pytest.raises(LocalKafkaError, match=r"^resolving the SDK with Maven failed: .*missing"):
        copy_dependencies(tmp_path / "pom.xml", tmp_path / "cache", "the SDK")
    assert not (tmp_path / "cache").exists()
