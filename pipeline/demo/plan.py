"""`pipeline run --demo` (what `make run` does): the pipeline plus a Hootsuite simulator and a
receiver, connected through the admin API once the ingress is ready."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import aiohttp

from pipeline.demo.setup import DEMO_SUBSCRIPTION_SECRET, configure_demo
from pipeline.ops.supervisor import Plan, say
from pipeline.settings import Settings

log = logging.getLogger(__name__)
DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 - the local demo's token, printed for the user
READY_WITHIN_SECONDS = 120.0


def demo_plan(settings: Settings, processes: list[str]) -> Plan:
    token = settings.admin_token.get_secret_value() if settings.admin_token else DEV_ADMIN_TOKEN
    env = {
        **os.environ,
        "PIPELINE_ADMIN_TOKEN": token,
        "PIPELINE_ALLOW_PRIVATE_DESTINATIONS": "true",  # the demo receiver is on 127.0.0.1
    }
    ingress = f"http://127.0.0.1:{settings.ingress_port}"
    simulator = f"http://127.0.0.1:{settings.demo_simulator_port}"
    receiver = f"http://127.0.0.1:{settings.demo_receiver_port}/hook"

    async def connect() -> None:
        await _await_ready(ingress + "/readyz")
        await configure_demo(ingress, token, simulator, receiver)
        say(f"demo ready: Hootsuite simulator at {simulator}, receiver at {receiver}")
        if settings.admin_token is None:
            say(f"admin API token for this run: {DEV_ADMIN_TOKEN} (set PIPELINE_ADMIN_TOKEN)")

    return Plan(
        processes={
            **{name: [] for name in processes},
            "simulator": ["--port", str(settings.demo_simulator_port)],
            "receiver": [
                *("--port", str(settings.demo_receiver_port)),
                *("--secret", DEMO_SUBSCRIPTION_SECRET),
            ],
        },
        env=env,
        after_start=connect,
    )


async def _await_ready(url: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} was not ready within {READY_WITHIN_SECONDS:.0f}s")
