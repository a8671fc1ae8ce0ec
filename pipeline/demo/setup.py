"""Connect the demo parts through the admin API, as a user would: idempotent (409 is fine)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from pipeline.demo.simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_OKTOPOST_ACCOUNT,
    DEMO_OKTOPOST_API_KEY,
    OKTOPOST_PATH,
    WEBSUB_PATH,
)
from pipeline.simulators.social import YOUTUBE_CHANNEL

log = logging.getLogger(__name__)
DEMO_OKTOPOST_SECRET = "demo-oktopost-secret"  # noqa: S105 - documented in the README's curl example
# whsec_ + base64 of 32 fixed bytes: the demo receiver checks deliveries with it.
DEMO_SUBSCRIPTION_SECRET = "whsec_ZGVtby1zdWJzY3JpcHRpb24tc2VjcmV0LTMyYnl0ZXM="  # noqa: S105


def demo_resources(simulator_url: str, receiver_url: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "/v1/instances",
            {
                "id": "demo-hootsuite",
                "provider": "hootsuite",
                "name": "Demo Hootsuite (simulator)",
                "polling": {"enabled": True, "interval_seconds": 5, "api_base_url": simulator_url},
                "credentials": {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
            },
        ),
        (
            "/v1/instances",
            {
                "id": "demo-oktopost",
                "provider": "oktopost",
                "name": "Demo Oktopost",
                "signing_secret": DEMO_OKTOPOST_SECRET,
            },
        ),
        (
            "/v1/instances",
            {
                "id": "demo-oktopost-managed",
                "provider": "oktopost",
                "name": "Demo Oktopost, managed (simulator)",
                "api_base_url": simulator_url + OKTOPOST_PATH,
                "credentials": {
                    "account_id": DEMO_OKTOPOST_ACCOUNT,
                    "api_key": DEMO_OKTOPOST_API_KEY,
                },
                "reconcile_interval_seconds": 30,
            },
        ),
        (
            "/v1/instances",
            {
                "id": "demo-youtube",
                "provider": "youtube",
                "name": "Demo YouTube channel (simulated WebSub hub)",
                "api_base_url": simulator_url + WEBSUB_PATH,
                "channels": [YOUTUBE_CHANNEL],
            },
        ),
        (
            "/v1/subscriptions",
            {
                "id": "demo-receiver",
                "name": "Demo receiver",
                "url": receiver_url,
                "secret": DEMO_SUBSCRIPTION_SECRET,
            },
        ),
    ]


async def configure_demo(
    ingress_url: str, token: str, simulator_url: str, receiver_url: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for path, body in demo_resources(simulator_url, receiver_url):
            async with session.post(ingress_url + path, json=body) as response:
                if response.status not in (201, 409):
                    raise RuntimeError(f"demo setup: POST {path} answered {response.status}")
                log.info("demo: %s %s ready", path.rsplit("/", 1)[-1], body["id"])
