"""A real Apache Kafka 3.9.1 broker (KRaft, one node) for development and tests, without Docker.

Jars come from Maven Central once (`kafka/pom.xml` → `.cache/kafka-3.9.1/`, `pipeline.ops.maven`);
storage is formatted once under the data dir; the broker runs detached with a small heap and a pid
file, so `start` is a no-op while it runs and `stop` can find it from any shell.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import resource
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import LocalKafkaError
from pipeline.health import broker_ready
from pipeline.ops.maven import copy_dependencies, require
from pipeline.settings import REPO_ROOT, Settings

KAFKA_VERSION = "3.9.1"
KAFKA_DIR = REPO_ROOT / "kafka"
JAR_CACHE = REPO_ROOT / ".cache" / f"kafka-{KAFKA_VERSION}"
HEAP = ["-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]

SERVER_PROPERTIES = """\
# Written by `pipeline kafka start` on every start; edit pipeline/ops/local_kafka.py instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dirs}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=8388608
log.cleaner.threads=1
"""


@dataclass(frozen=True)
class LocalKafka:
    """One local broker: where its jars, storage, log and pid file live, and its ports."""

    home: Path
    port: int = 9092
    controller_port: int = 9093
    jar_cache: Path = JAR_CACHE

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalKafka:
        host, _, port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
        if host not in {"127.0.0.1", "localhost"} or not port.isdigit():
            raise LocalKafkaError(
                f"PIPELINE_KAFKA_BOOTSTRAP is {settings.kafka_bootstrap}: the local broker only "
                "runs on 127.0.0.1:<port>; point the pipeline at your own cluster instead"
            )
        return cls(home=settings.data_dir / "kafka", port=int(port), controller_port=int(port) + 1)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def storage(self) -> Path:
        return self.home / "data"

    def running_pid(self) -> int | None:
        """The pid of the broker this home started, if it is still alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"kafka.Kafka" in cmdline else None

    def ensure_jars(self) -> None:
        """Resolve Kafka and a logging backend from Maven Central into the project's cache, once."""
        copy_dependencies(KAFKA_DIR / "pom.xml", self.jar_cache, "Kafka jars")

    def ensure_storage(self) -> None:
        """Write server.properties; format the KRaft storage the first time."""
        self.home.mkdir(parents=True, exist_ok=True)
        properties = self.home / "server.properties"
        properties.write_text(
            SERVER_PROPERTIES.format(
                port=self.port, controller_port=self.controller_port, log_dirs=self.storage
            )
        )
        if (self.storage / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(  # noqa: S603
            # One argument: a base64url id may start with "-" and would read as an option.
            [*self._java(), "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
             "-c", str(properties), "--ignore-formatted"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting Kafka storage failed: {result.stdout}{result.stderr}"
            )

    def spawn(self) -> int:
        """Start the broker detached: its own session, so a terminal's Ctrl-C reaches it via us."""
        self.ensure_jars()
        self.ensure_storage()
        with (self.home / "console.log").open("ab") as log:
            # The broker holds a few descriptors per partition (segment, indexes): with many
            # topics it reaches the usual soft limit of open files long before the hard one and
            # dies with "Too many open files", so it runs with the soft limit raised to the hard.
            process = subprocess.Popen(  # noqa: S603
                [*self._java(), "kafka.Kafka", str(self.home / "server.properties")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=raise_open_files_limit,  # noqa: PLW1509 - only setrlimit, no locks
            )  # fmt: skip
        self.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def _java(self) -> list[str]:
        java = require(
            "java", "a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)"
        )
        log4j = KAFKA_DIR / "log4j.properties"
        return [
            java, *HEAP, "-Djava.awt.headless=true", f"-Dkafka.logs.dir={self.home}",
            f"-Dlog4j.configuration=file:{log4j}", "-cp", f"{self.jar_cache}/*",
        ]  # fmt: skip

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the broker's log and of its console (where JVM start errors go)."""
        found = []
        for path in (self.log_file, self.home / "console.log"):
            with contextlib.suppress(OSError):
                found.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(found) or "(no broker log)"


def raise_open_files_limit() -> None:
    """Raise this process's soft limit of open files to its hard limit (run in the broker's
    child before exec). A limit the kernel refuses (an unlimited hard limit) is left as it is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def start(kafka: LocalKafka, timeout: float = 90.0) -> tuple[bool, str]:
    """Start (or find) the broker and wait until it answers. Returns (started_now, message)."""
    pid = kafka.running_pid()
    if pid is not None:
        if await _await_ready(kafka, None, timeout):
            return False, f"Kafka already running at {kafka.bootstrap} (pid {pid})"
        raise LocalKafkaError(f"Kafka pid {pid} runs but does not answer; see {kafka.log_file}")
    if await broker_ready(kafka.bootstrap, timeout=1.5):
        return False, f"a Kafka broker already answers at {kafka.bootstrap}; using it"
    began = time.monotonic()
    pid = kafka.spawn()
    if not await _await_ready(kafka, pid, timeout):
        await stop(kafka)
        raise LocalKafkaError(
            f"Kafka did not become ready within {timeout:.0f}s; last log lines:\n{kafka.log_tail()}"
        )
    return True, f"Kafka {KAFKA_VERSION} ready at {kafka.bootstrap} (pid {pid}) in " + (
        f"{time.monotonic() - began:.1f}s"
    )


async def _await_ready(kafka: LocalKafka, pid: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            raise LocalKafkaError(f"Kafka exited during start; last log lines:\n{kafka.log_tail()}")
        if await broker_ready(kafka.bootstrap):
            return True
        await asyncio.sleep(0.25)
    return False


async def stop(kafka: LocalKafka, timeout: float = 45.0) -> str:
    """Stop the broker this home started: SIGTERM (controlled shutdown), SIGKILL after `timeout`."""
    pid = kafka.running_pid()
    if pid is None:
        kafka.pid_file.unlink(missing_ok=True)
        return f"Kafka is not running from {kafka.home}"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:  # noqa: ASYNC110 - not our child: poll
        await asyncio.sleep(0.1)
    forced = _alive(pid)
    if forced:
        os.kill(pid, signal.SIGKILL)
    kafka.pid_file.unlink(missing_ok=True)
    return f"Kafka (pid {pid}) {'killed after timeout' if forced else 'stopped'}"


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child, so it does not linger as a zombie
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def status(kafka: LocalKafka) -> tuple[bool, str]:
    """(ready, one line describing the broker)."""
    pid = kafka.running_pid()
    ready = await broker_ready(kafka.bootstrap)
    if pid is not None:
        state = "ready" if ready else "not answering"
        return ready, f"Kafka running at {kafka.bootstrap} (pid {pid}), {state}"
    if ready:
        return True, f"a Kafka broker not started from {kafka.home} answers at {kafka.bootstrap}"
    return False, f"no Kafka broker at {kafka.bootstrap}"
