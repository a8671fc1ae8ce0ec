"""Cloud Elements onboarding end to end: the redirect URL, the instance body with a code, the
exchange at the Hootsuite simulator, polling, and the callback in Cloud Elements' format.

Real broker, real `pipeline ingress`/`worker`/`poller` processes; the simulator and the receiver
are served from the test's event loop on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from pipeline.simulators.hootsuite import SimulatorState
from tests.integration.conftest import Stack
from tests.integration.test_poller import Pollers, serve
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

CLIENT_ID, CLIENT_SECRET = "ce-app", "ce-app-secret-value"
REDIRECT = "https://app.example.com/oauth/callback"
SIGNATURE_KEY = "ce-signature-key"


@pytest.fixture
async def pollers(stack: Stack) -> AsyncIterator[Pollers]:
    running = Pollers(stack)
    yield running
    if running.current is not None:
        log = running.current.log_tail
        assert await running.stop() == 0, log()  # SIGTERM: a clean shutdown


async def consent(stack: Stack, simulator_url: str) -> str:
    """Cloud Elements' "getting a redirect URL" step, then the user's consent: a code."""
    query = f"provider=hootsuite&client_id={CLIENT_ID}&redirect_uri={REDIRECT}&state=s1"
    status, answer = await stack.admin(
        "GET", f"/v1/oauth/authorize-url?{query}&api_base_url={simulator_url}"
    )
    assert status == 200, answer
    assert answer["url"].startswith(f"{simulator_url}/oauth2/auth?")
    async with (
        aiohttp.ClientSession() as session,
        session.get(answer["url"], allow_redirects=False) as response,
    ):
        assert response.status == 302
        location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    back = parse_qs(location.query)
    assert back["state"] == ["s1"]
    return back["code"][0]


def cloud_elements_body(
    code: str, simulator_url: str, callback_url: str, tag: str
) -> dict[str, Any]:
    return {
        "element": {"key": "hootsuite"},
        "providerData": {"code": code},
        "configuration": {
            "oauth.callback.url": REDIRECT,
            "oauth.api.key": CLIENT_ID,
            "oauth.api.secret": CLIENT_SECRET,
            "event.notification.enabled": "true",
            "event.notification.callback.url": callback_url,
            "event.notification.signature.key": SIGNATURE_KEY,
            "event.vendor.type": "polling",
            "event.poller.refresh_interval": "0.02",  # minutes: a poll every 1.2 s
        },
        "tags": [tag],
        "name": "ce instance",
        "id": f"ce-{uuid.uuid4().hex[:8]}",
        "api_base_url": simulator_url,
    }


async def test_a_code_becomes_tokens_polling_and_a_signed_cloud_elements_callback(
    stack: Stack, pollers: Pollers
) -> None:
    provider = SimulatorState({CLIENT_ID: CLIENT_SECRET})
    message = provider.add_message(datetime.now(UTC) + timedelta(hours=1), text="ce launch")
    receiver = await Receiver().start()
    tag = f"team-{uuid.uuid4().hex[:6]}"
    try:
        async with serve(provider) as url:
            code = await consent(stack, url)
            body = cloud_elements_body(code, url, receiver.url, tag)
            status, created = await stack.admin("POST", "/v1/instances", body)
            assert status == 201, created
            assert provider.codes == {}  # the code was exchanged before the 201
            assert provider.requests["token"] == 1
            assert {"access_token", "refresh_token", "client_secret"} <= set(created["credentials"])
            assert CLIENT_SECRET not in str(created)
            assert SIGNATURE_KEY not in str(created)
            assert created["callback_format"] == "cloud-elements"
            assert created["api_base_url"] == url
            assert created["tags"] == [tag]

            status, tagged = await stack.admin("GET", f"/v1/instances?tag={tag}")
            assert [i["id"] for i in tagged["data"]] == [created["id"]]
            status, subscription = await stack.admin("GET", f"/v1/subscriptions/cb-{created['id']}")
            assert subscription["format"] == "cloud-elements"

            await pollers.start()
            [delivery] = await receiver.wait_for(1, timeout=60)
    finally:
        await receiver.stop()

    headers = {k.lower(): v for k, v in delivery.headers.items()}
    expected = hmac.new(SIGNATURE_KEY.encode(), delivery.body, hashlib.sha256).digest()
    assert headers["elements-webhook-signature"] == "sha256=" + base64.b64encode(expected).decode()
    Webhook(created["callback_secret"]).verify(delivery.body, headers)
    assert headers["content-type"].startswith("application/json")
    notification = orjson.loads(delivery.body)["message"]
    assert notification["elementKey"] == "hootsuite"
    assert notification["instanceId"] == created["id"]
    assert notification["events"] == [
        {
            "objectType": "posts",
            "objectId": message["id"],
            "eventType": "UPDATED",
            "elementKey": "hootsuite",
            "date": notification["events"][0]["date"],
        }
    ]
    assert notification["raw"]["id"] == message["id"]


async def test_a_refused_code_is_a_422_with_the_providers_error_and_stores_nothing(
    stack: Stack,
) -> None:
    provider = SimulatorState({CLIENT_ID: CLIENT_SECRET})
    async with serve(provider) as url:
        body = cloud_elements_body("not-a-code", url, "https://hooks.example.com/x", "t")
        status, answer = await stack.admin("POST", "/v1/instances", body)
    assert status == 422, answer
    assert answer["error"]["code"] == "code_refused"
    assert "invalid_grant" in str(answer["error"]["provider_error"])
    assert CLIENT_SECRET not in str(answer)
    assert (await stack.admin("GET", f"/v1/instances/{body['id']}"))[0] == 404
    assert (await stack.admin("GET", f"/v1/subscriptions/cb-{body['id']}"))[0] == 404
