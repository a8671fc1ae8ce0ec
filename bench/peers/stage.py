"""What the peer runners share: their spec, the dedup key, and running until SIGTERM.

`python -m bench.peers.bare SPEC.json` and `python -m bench.peers.quix SPEC.json` each run the
worker's normalize+dedup stage on the backlog (`bench/peers/main.py`): `webhooks.raw` → the
pipeline's own pure `normalize_webhook` → drop events whose key was seen → their output topic.
They differ only in the Kafka client and where the seen keys are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class RunnerSpec:
    """Where a runner reads and writes, as the parent hands it over (a JSON file)."""

    bootstrap: str
    source: str  # the backlog's `webhooks.raw`
    output: str  # this run's own output topic
    group: str  # this run's own consumer group: it reads the backlog from the beginning
    topics_dir: str  # the data contract, for the catalog of event schemas
    state_dir: str  # where a runner with local state keeps it

    @classmethod
    def from_json(cls, raw: bytes) -> RunnerSpec:
        return cls(**orjson.loads(raw))

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))


def dedup_key(event: dict[str, Any]) -> str:
    """The key the worker deduplicates on (`dedup_key` in pipeline/agents/normalize.py)."""
    return f"{event['source']} {event['id']}"


async def until_terminated(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until it ends or SIGTERM arrives (the parent stops a runner that way)."""
    task = asyncio.ensure_future(work)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
