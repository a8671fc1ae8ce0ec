"""Test runs delete the topics they make on the shared broker (tests/support/topic_cleanup.py).

A nested pytest session on the real broker, with this project's fixtures: its first module makes
topics through `settings` and `stack_settings` (the manifest's, faust's changelogs under the app
id), its second module finds them gone, and once the session ends none of its topics is left,
while a topic of another prefix, made by this (still running) session, is untouched.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic

from pipeline.ops.topics_apply import admin_client
from pipeline.settings import REPO_ROOT
from tests.support import topic_cleanup
from tests.support.processes import free_port

pytestmark = pytest.mark.integration

NESTED_INI = """\
[pytest]
asyncio_default_fixture_loop_scope = function
markers = integration
"""

FIRST_MODULE = """\
import asyncio, os
from pathlib import Path

from pipeline.contract.changelogs import changelog_specs
from pipeline.ops.topics_apply import apply_topics
from tests.integration.conftest import stack_settings
from tests.integration.test_topic_cleanup import create_topics, topic_names


def test_makes_topics(settings, tmp_path):
    stack = stack_settings(settings.kafka_bootstrap, tmp_path)
    asyncio.run(apply_topics(stack.kafka_bootstrap, changelog_specs(stack)))
    own = [settings.topic("own"), f"{settings.app_id}-__assignor-__leader"]
    asyncio.run(create_topics(settings.kafka_bootstrap, own))
    starts = (settings.topic_prefix, settings.app_id, stack.topic_prefix, stack.app_id)
    made = {n for n in asyncio.run(topic_names(settings.kafka_bootstrap)) if n.startswith(starts)}
    assert {*own, f"{stack.app_id}-dedup-changelog", stack.topic("webhooks.raw")} <= made
    Path(os.environ["NESTED_OUT"], "first").write_text("\\n".join(sorted(made)))
"""

SECOND_MODULE = """\
import asyncio, os
from pathlib import Path

from tests.integration.test_topic_cleanup import create_topics, until_gone


def test_finds_the_first_modules_topics_gone(kafka_bootstrap, prefix):
    first = Path(os.environ["NESTED_OUT"], "first").read_text().split()
    asyncio.run(until_gone(kafka_bootstrap, first))
    asyncio.run(create_topics(kafka_bootstrap, [f"{prefix}own"]))
    Path(os.environ["NESTED_OUT"], "second").write_text(f"{prefix}own")
"""


async def create_topics(bootstrap: str, names: list[str], within: float = 15.0) -> None:
    """Create `names` and wait until the broker lists them."""
    async with admin_client(bootstrap) as admin:
        await admin.create_topics([NewTopic(name, 2, 1) for name in names])
        deadline = time.monotonic() + within
        while missing := set(names) - set(await admin.list_topics()):
            assert time.monotonic() < deadline, f"not listed after {within}s: {sorted(missing)}"
            await asyncio.sleep(0.1)


async def topic_names(bootstrap: str) -> set[str]:
    async with admin_client(bootstrap) as admin:
        return set(await admin.list_topics())


async def until_gone(bootstrap: str, names: list[str], within: float = 15.0) -> None:
    """Poll the broker's topic list until none of `names` is in it."""
    deadline = time.monotonic() + within
    while left := set(names) & await topic_names(bootstrap):
        assert time.monotonic() < deadline, f"still on the broker after {within}s: {sorted(left)}"
        await asyncio.sleep(0.2)


def nested_session(kafka_bootstrap: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """`pytest` on the two modules above, with tests/conftest.py's fixtures, on this broker."""
    tests = directory / "nested"
    tests.mkdir()
    (tests / "pytest.ini").write_text(NESTED_INI)
    (tests / "test_first.py").write_text(FIRST_MODULE)
    (tests / "test_second.py").write_text(SECOND_MODULE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")},
        "PIPELINE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PIPELINE_DATA_DIR": str(directory / "data"),  # no start marker: never stops the broker
        "NESTED_OUT": str(directory),
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
        "-W", "error::tests.support.topic_cleanup.TopicsLeftWarning",
        "-c", str(tests / "pytest.ini"), "--rootdir", str(tests), str(tests),
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


async def test_a_session_deletes_its_modules_topics_and_only_those(
    kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    survivor = f"{prefix}survivor"  # this session's: the nested one never recorded it
    await create_topics(kafka_bootstrap, [survivor])

    nested = await asyncio.to_thread(nested_session, kafka_bootstrap, tmp_path)

    assert nested.returncode == 0, nested.stdout + nested.stderr
    assert "2 passed" in nested.stdout, nested.stdout
    first = (tmp_path / "first").read_text().split()
    second = (tmp_path / "second").read_text().split()
    assert len(first) > 20, first  # the manifest's topics, faust's changelogs, the test's own
    await until_gone(kafka_bootstrap, [*first, *second])
    assert survivor in await topic_names(kafka_bootstrap)


def test_an_unreachable_broker_is_a_warning_within_the_timeout() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    began = time.monotonic()
    with pytest.warns(topic_cleanup.TopicsLeftWarning, match=r"under x\. may be left on"):
        assert topic_cleanup.clean_up({(bootstrap, "x.")}, timeout=3.0) == []
    assert time.monotonic() - began < 3.0 + 2.0
