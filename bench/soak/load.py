"""The soak's load generator, a process of its own: `python -m bench.soak.load SPEC.json OUT.json`.

`bench.loadgen`'s open loop (request i due at `begin + i / rate`, whatever happened to earlier
ones) driving `bench.payloads`' signed Oktopost webhooks, Hootsuite batches and resends. Besides
what `bench.loadgen` records, each request keeps the instance it went to: an event's webhook-id
depends on its source, and the accounting computes it from the payload, not from the pipeline.
Status 0 means no answer (connection refused or reset, or no answer within the spec's timeout).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.loadgen import LoadSpec, open_loop
from bench.payloads import Request, WebhookFactory


async def generate(spec: LoadSpec) -> dict[str, list[Any]]:
    if spec.instances is None:
        raise ValueError("the soak's load needs the instances")
    instance_of = {
        spec.instances.oktopost_path: spec.instances.oktopost_id,
        spec.instances.hootsuite_path: spec.instances.hootsuite_id,
    }
    columns: dict[str, list[Any]] = {
        key: [] for key in ("due", "finished", "status", "duplicate", "instance", "event_ids")
    }
    connector = aiohttp.TCPConnector(limit=spec.connections)
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(request: Request, due: float) -> None:
            status = 0
            try:
                async with session.post(
                    spec.base_url + request.path, data=request.body, headers=request.headers
                ) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, OSError):
                status = 0  # TimeoutError is an OSError
            columns["due"].append(due)
            columns["finished"].append(time.monotonic())
            columns["status"].append(status)
            columns["duplicate"].append(request.duplicate)
            columns["instance"].append(instance_of[request.path])
            columns["event_ids"].append(list(request.event_ids))

        await open_loop(spec, WebhookFactory(spec.instances, spec.mix, spec.tag), send)
    return columns


def main(argv: list[str]) -> int:
    spec = LoadSpec.from_json(Path(argv[0]).read_bytes())
    Path(argv[1]).write_bytes(orjson.dumps(asyncio.run(generate(spec))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
