"""Peer runner: the normalize+dedup stage on Quix Streams (`python -m bench.peers.quix SPEC`).

`webhooks.raw` → a StreamingDataFrame whose stateful `apply` runs the pipeline's
`normalize_webhook` and keeps the seen keys in Quix's RocksDB `State` (changelogged), expanded to
one row per new event → `to_topic`, keyed by subject (Quix's JSON serializer is orjson). Quix's
own at-least-once checkpoint: every `commit_interval` (its default) it flushes the producer, waits
for the acks, then commits the offsets. Otherwise Quix's defaults. Runs until SIGTERM, which Quix
handles itself.

A bench-only extra (the `bench-peer` group in pyproject.toml says how to install it); nothing but
`python -m` starts this module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quixstreams import Application, State

from bench.peers.stage import RunnerSpec, dedup_key
from pipeline.events.catalog import Catalog
from pipeline.providers.normalize import normalize_webhook


def new_events(catalog: Catalog) -> Callable[[bytes, State[str, int]], list[dict[str, Any]]]:
    """The stateful step: one raw record → its events not seen before (marked seen)."""

    def step(raw: bytes, state: State[str, int]) -> list[dict[str, Any]]:
        fresh = []
        for event in normalize_webhook(raw, catalog).events:
            key = dedup_key(event)
            if state.exists(key):
                continue
            state.set(key, 1)
            fresh.append(event)
        return fresh

    return step


def application(spec: RunnerSpec) -> Application:
    app = Application(
        broker_address=spec.bootstrap,
        consumer_group=spec.group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        state_dir=spec.state_dir,
        producer_extra_config={"acks": "all", "enable.idempotence": True},
    )
    source = app.topic(spec.source, value_deserializer="bytes", key_deserializer="bytes")
    output = app.topic(spec.output, value_serializer="json", key_serializer="string")
    frame = app.dataframe(source)
    frame = frame.apply(new_events(Catalog(Path(spec.topics_dir))), stateful=True, expand=True)
    frame.to_topic(output, key=lambda event: event["subject"])
    return app


def main(argv: list[str]) -> int:
    application(RunnerSpec.from_json(Path(argv[0]).read_bytes())).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
