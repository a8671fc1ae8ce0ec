"""A WebSub hub's subscribe endpoint (`POST {hub}/subscribe`, form-encoded), as YouTube's uses it.

The hub answers 202 and verifies the request later with a GET to `hub.callback` (the instance's
webhook URL, which the ingress answers), or verifies at once and answers 204.
"""

from __future__ import annotations

import aiohttp

from pipeline.providers.errors import ProviderResponseError, ProviderUnavailableError

DEFAULT_HUB_URL = "https://pubsubhubbub.appspot.com"
REQUEST_TIMEOUT = 10.0


async def request_subscription(
    session: aiohttp.ClientSession,
    hub_url: str,
    *,
    mode: str,
    callback: str,
    topic: str,
    lease_seconds: int,
    secret: str | None,
) -> None:
    """Ask the hub to (un)subscribe `callback` to `topic`; raises a `PollerError` if it refuses."""
    form = {
        "hub.mode": mode,
        "hub.callback": callback,
        "hub.topic": topic,
        "hub.verify": "async",
        "hub.lease_seconds": str(lease_seconds),
    }
    if secret:
        form["hub.secret"] = secret
    url = hub_url.rstrip("/") + "/subscribe"
    try:
        async with session.post(
            url, data=form, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        ) as response:
            detail = (await response.text())[:200]
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProviderUnavailableError(f"hub {url}: {exc}") from exc
    if status >= 500:
        raise ProviderUnavailableError(f"hub {url} answered {status}: {detail}")
    if status not in (202, 204):
        raise ProviderResponseError(f"hub {url} answered {status}: {detail}")
