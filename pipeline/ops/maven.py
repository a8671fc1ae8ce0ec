"""Jars from Maven Central into the project's cache (`.cache/`), resolved once per POM.

The local broker's jars (`kafka/pom.xml`) and the CloudEvents Java SDK the interoperability tests
run (`tests/interop/java/pom.xml`) are resolved the same way: `mvn dependency:copy-dependencies`
of the runtime scope into a staging folder, renamed into place and marked complete only once Maven
succeeded, so an interrupted run is never mistaken for a finished one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pipeline.errors import LocalKafkaError, MissingToolError

COMPLETE = ".complete"


def require(tool: str, what: str) -> str:
    """The path of `tool`, or a one-line `MissingToolError` naming what to install."""
    path = shutil.which(tool)
    if path is None:
        raise MissingToolError(f"`{tool}` not found: install {what}")
    return path


def copy_dependencies(pom: Path, into: Path, what: str) -> Path:
    """`pom`'s runtime dependencies as jars in `into` (a no-op once done); `what` names them in
    the error should Maven fail."""
    into = into.absolute()  # Maven reads a relative output directory against the POM's folder
    if (into / COMPLETE).exists():
        return into
    mvn = require("mvn", "Maven 3.6+ (e.g. `apt-get install maven`)")
    staging = into.with_name(into.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise LocalKafkaError(f"resolving {what} with Maven failed: " + " | ".join(tail))
    shutil.rmtree(into, ignore_errors=True)
    staging.rename(into)
    (into / COMPLETE).touch()
    return into
