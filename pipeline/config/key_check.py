"""Start-up check: can this process's key ring open every sealed value on the `config.*` topics?

A process whose ring lacks a key the configuration uses (no `PIPELINE_SECRET_KEYS` and a data dir
of its own, a typo, a rotation rolled out to half the fleet) would otherwise run and take every
record it cannot open for a missing one. It refuses to start instead, with one line naming the
record, the key id and the variable to set; a worker that meets such a record later exits the same
way (`StopOnForeignKey`), leaving its partitions to a worker that can read them.

A record that is not the shape its schema gives is not a key ring's fault: it is logged and left
to the readers, which wait for it (`pipeline.config.view`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.config.keyring import KeyRing
from pipeline.config.sealing import ConfigCodec
from pipeline.config.view import CompactedView, Unreadable
from pipeline.contract.topics import Topic
from pipeline.errors import ConfigError
from pipeline.health import unlisted_topics
from pipeline.settings import Settings

log = logging.getLogger(__name__)
LOAD_TIMEOUT_SECONDS = 30.0  # Kafka not answering at start: the check is left to the readers
EXIT_FOREIGN_KEY = 78  # EX_CONFIG (sysexits.h): configuration the process cannot use
Reader = tuple[str, Callable[[bytes], Any]]  # a topic and the decoder of its values


class ForeignKeyError(ConfigError):
    """The configuration holds a value sealed with a key this process's ring cannot open."""

    code = "foreign_key"


def foreign_key_line(unreadable: Unreadable, ring: KeyRing) -> str:
    """One line: the record, its key id, this ring's ids and what to do."""
    return (
        f"{unreadable.topic}/{unreadable.key} is sealed with key {unreadable.key_id!r}, which "
        f"this process's key ring (ids {list(ring.ids)}) cannot open: set PIPELINE_SECRET_KEYS "
        "to the key ring the other processes use (every process of a deployment needs the same "
        "ring; without the variable each data dir generates a key of its own)"
    )


async def check_key_ring(bootstrap: str, readers: Sequence[Reader], ring: KeyRing) -> None:
    """Read each `(topic, decode)` to its end; raise `ForeignKeyError` for a value sealed with a
    key the ring cannot open. A topic not created yet holds nothing to check; Kafka not answering
    (within `LOAD_TIMEOUT_SECONDS`) leaves the check to the readers."""
    missing = await unlisted_topics(bootstrap, [topic for topic, _ in readers])
    views = [CompactedView(bootstrap, t, decode) for t, decode in readers if t not in missing]
    for view in views:
        view.start()
    try:
        async with asyncio.timeout(LOAD_TIMEOUT_SECONDS):
            await asyncio.gather(*(view.caught_up.wait() for view in views))
    except TimeoutError:
        log.warning("configuration not read in %.0f s; key ring not checked", LOAD_TIMEOUT_SECONDS)
        return
    finally:
        for view in views:
            await view.stop()
    foreign = [u for view in views for u in view.unreadable.values() if u.key_id is not None]
    if foreign:
        more = f" ({len(foreign) - 1} more such records)" if len(foreign) > 1 else ""
        raise ForeignKeyError(foreign_key_line(foreign[0], ring) + more)


async def check_config_keys(settings: Settings, ring: KeyRing, more: Sequence[Reader] = ()) -> None:
    """`check_key_ring` over `config.instances`, `config.subscriptions` and `more` (a poller's
    rotated tokens on `pollers.credentials`)."""
    codec = ConfigCodec(ring)
    readers: list[Reader] = [
        (settings.topic(Topic.CONFIG_INSTANCES), codec.instance_from_json),
        (settings.topic(Topic.CONFIG_SUBSCRIPTIONS), codec.subscription_from_json),
        *more,
    ]
    await check_key_ring(settings.kafka_bootstrap, readers, ring)


class StopOnForeignKey:
    """An `on_unreadable` hook for a worker's views: a sealed value its ring cannot open stops the
    process (SIGTERM: faust's clean stop, then exit code `EXIT_FOREIGN_KEY` from `exit_code`), so
    that the group hands its partitions to a worker that can read the record; what it held
    uncommitted is read again there."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self.requested = False

    def __call__(self, unreadable: Unreadable) -> None:
        if unreadable.key_id is None or self.requested:
            return
        log.error("%s; stopping", foreign_key_line(unreadable, self._ring))
        self.requested = True
        os.kill(os.getpid(), signal.SIGTERM)

    def exit_code(self, code: int) -> int:
        return EXIT_FOREIGN_KEY if self.requested else code
