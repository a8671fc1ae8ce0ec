"""The official CloudEvents Java SDK reading a topic, as a data team's Java consumer would.

`tests/interop/java/ReadCloudEvents.java` runs as a single source file on the jars its `pom.xml`
names, which Maven resolves from Central into `.cache/` the first time (as the broker's own jars),
so a fresh clone's `make test` needs nothing else than the JVM and Maven the broker needs.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.ops.maven import copy_dependencies, require
from pipeline.settings import REPO_ROOT

JAVA_DIR = REPO_ROOT / "tests" / "interop" / "java"
POM = JAVA_DIR / "pom.xml"
SDK = "the CloudEvents Java SDK"
# A short-lived JVM on a shared 2-core machine: C1 alone and the serial collector start fastest
# (2.1 s against 3.1 s for the defaults here, source compilation included).
JVM = ["-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]


@dataclass(frozen=True)
class JavaRead:
    """What ReadCloudEvents printed: one line per event, and why it stopped if it failed."""

    returncode: int
    events: list[dict[str, Any]]
    stderr: str


def read_with_java_sdk(bootstrap: str, topic: str, timeout: float = 120.0) -> JavaRead:
    """`topic` from its beginning to its current end, through the SDK's `CloudEventDeserializer`."""
    # Named after the POM's digest: a changed POM resolves into a folder of its own.
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    jars = copy_dependencies(POM, REPO_ROOT / ".cache" / f"cloudevents-java-{digest}", SDK)
    java = require("java", "a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
    result = subprocess.run(
        [java, *JVM, "-cp", f"{jars}/*", str(JAVA_DIR / "ReadCloudEvents.java"), bootstrap, topic],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    events = [orjson.loads(line) for line in result.stdout.splitlines()]
    return JavaRead(result.returncode, events, result.stderr)
