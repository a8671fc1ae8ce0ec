"""The topics a test process makes on a broker, deleted when their module (or the session) ends.

Every test or module gets a random prefix of its own (`prefix`, `settings`, `stack_settings`) and
records it here with its app id; nothing else deleted them, so repeated runs piled partitions up on
the shared broker until it ran out of file descriptors. A process deletes only the prefixes it
recorded itself: another xdist worker's, or another run's, topics on the same broker are never
touched. Deleting is best-effort and bounded: a failure is a `TopicsLeftWarning`, not a failure.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterable

from aiokafka.errors import KafkaError

from pipeline.errors import PipelineError
from pipeline.ops.topics_apply import UNKNOWN_TOPIC, admin_client

DELETE_WITHIN_SECONDS = 10.0

Entry = tuple[str, str]  # (bootstrap, prefix)
_recorded: set[Entry] = set()


class TopicsLeftWarning(UserWarning):
    """Topics this process made could not be deleted; they stay on the broker."""


def record(bootstrap: str, *prefixes: str) -> None:
    """Topics on `bootstrap` whose names start with one of `prefixes` are this process's: a topic
    prefix, or an app id (faust names its changelog, repartition and leader topics `<app id>-…`).
    """
    _recorded.update((bootstrap, prefix) for prefix in prefixes if prefix)


def forget(bootstrap: str) -> None:
    """Drop what was recorded on `bootstrap`: a broker of a test's own, its topics gone with it."""
    _recorded.difference_update({entry for entry in _recorded if entry[0] == bootstrap})


def recorded() -> frozenset[Entry]:
    return frozenset(_recorded)


def owned(names: Iterable[str], prefixes: Iterable[str]) -> list[str]:
    """The names that start with one of `prefixes`, sorted."""
    starts = tuple(prefixes)
    return sorted(name for name in names if starts and name.startswith(starts))


async def delete_owned(
    bootstrap: str, prefixes: Iterable[str], timeout: float = DELETE_WITHIN_SECONDS
) -> list[str]:
    """Delete the topics on `bootstrap` whose names start with one of `prefixes`; their names."""
    wanted = list(prefixes)
    async with asyncio.timeout(timeout), admin_client(bootstrap, int(timeout * 1000)) as admin:
        names = owned(await admin.list_topics(), wanted)
        if not names:
            return []
        response = await admin.delete_topics(names, timeout_ms=int(timeout * 1000))
    failed = [
        f"{name} (error {code})"
        for name, code in response.topic_error_codes
        if code not in {0, UNKNOWN_TOPIC}  # UNKNOWN_TOPIC: already gone
    ]
    if failed:
        raise PipelineError(f"deleting topics failed: {', '.join(failed)}")
    return names


def clean_up(entries: Iterable[Entry], timeout: float = DELETE_WITHIN_SECONDS) -> list[str]:
    """Delete the topics of `entries` and forget them; the names deleted. Not a coroutine: it runs
    in fixture teardown, outside any test's event loop."""
    entries = set(entries)
    _recorded.difference_update(entries)
    deleted: list[str] = []
    for bootstrap in sorted({bootstrap for bootstrap, _ in entries}):
        prefixes = sorted(prefix for each, prefix in entries if each == bootstrap)
        try:
            deleted += asyncio.run(delete_owned(bootstrap, prefixes, timeout))
        except (KafkaError, PipelineError, OSError, TimeoutError) as exc:
            warnings.warn(
                f"topics under {', '.join(prefixes)} may be left on {bootstrap}: "
                f"{type(exc).__name__}: {exc}",
                TopicsLeftWarning,
                stacklevel=2,
            )
    return deleted
