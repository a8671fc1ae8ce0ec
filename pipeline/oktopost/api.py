"""An async client for Oktopost's webhooks API (`/v2/webhook`, `/v2/webhook-log/{id}`).

Flow: the webhook manager → this client → Oktopost. HTTP Basic `ACCOUNT_ID:API_KEY`, form
bodies, answers wrapped as `{"Result": true, "Items": […]}` or `{"Result": true, "Webhook": {…}}`.
Failures are the pollers' errors, so an instance's health reads them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from pipeline.providers.errors import AuthError, ProviderResponseError, ProviderUnavailableError

DEFAULT_API_BASE_URL = "https://api.oktopost.com"
PAGE_SIZE = 100
REQUEST_TIMEOUT = 10.0
HTTP_OK_MAX = 299
HTTP_SERVER_ERROR = 500
AUTH_FAILURES = (401, 403)


@dataclass(frozen=True)
class OktopostAccount:
    """Where and as whom; the api key stays out of `repr`, so it never reaches a log line."""

    base_url: str
    account_id: str
    api_key: str = field(repr=False)


class OktopostClient:
    """The webhook endpoints of one Oktopost account."""

    def __init__(self, session: aiohttp.ClientSession, account: OktopostAccount) -> None:
        self._session = session
        self._base = account.base_url.rstrip("/")
        self._authorization = aiohttp.encode_basic_auth(account.account_id, account.api_key)

    async def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook of the account, page by page."""
        return await self._pages("/v2/webhook")

    async def create(self, event: str, name: str, url: str, description: str) -> dict[str, Any]:
        """A new webhook for one event type; the answer holds its `Secret` (only this once)."""
        form = {"event": event, "name": name, "url": url, "description": description}
        answer = await self._call("POST", "/v2/webhook", data={**form, "isEnabled": "1"})
        webhook = answer.get("Webhook")
        if not isinstance(webhook, dict) or not isinstance(webhook.get("Secret"), str):
            raise ProviderResponseError("POST /v2/webhook: no Webhook with a Secret")
        return webhook

    async def update(self, webhook_id: str, fields: dict[str, str]) -> None:
        await self._call("POST", f"/v2/webhook/{webhook_id}", data=fields)

    async def delete(self, webhook_id: str) -> None:
        await self._call("DELETE", f"/v2/webhook/{webhook_id}", missing_ok=True)

    async def log(self, webhook_id: str) -> list[dict[str, Any]]:
        """The webhook's delivery history (`Payload`, `ResponseCode`, …), page by page."""
        return await self._pages(f"/v2/webhook-log/{webhook_id}")

    async def _pages(self, path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"_count": str(PAGE_SIZE), "_page": str(page)}
            answer = await self._call("GET", path, params=params)
            items = _items(answer, f"GET {path}")
            found.extend(items)
            if len(items) < PAGE_SIZE or len(found) >= int(answer.get("Total", 0)):
                return found
            page += 1

    async def _call(
        self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        try:
            async with self._session.request(
                method,
                self._base + path,
                headers={"Authorization": self._authorization},
                timeout=timeout,
                **kwargs,
            ) as response:
                status, body = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailableError(f"{method} {path}: {type(exc).__name__}") from exc
        if status in AUTH_FAILURES:
            raise AuthError(f"{method} {path}: HTTP {status}: account id or api key refused")
        if status >= HTTP_SERVER_ERROR:
            raise ProviderUnavailableError(f"{method} {path}: HTTP {status}")
        if missing_ok and status == 404:
            return {}
        if status > HTTP_OK_MAX:
            raise ProviderResponseError(f"{method} {path}: HTTP {status}")
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ProviderResponseError(f"{method} {path}: body is not JSON") from exc
        if not isinstance(answer, dict) or answer.get("Result") is not True:
            raise ProviderResponseError(f"{method} {path}: Result is not true")
        return answer


def _items(answer: dict[str, Any], what: str) -> list[dict[str, Any]]:
    items = answer.get("Items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ProviderResponseError(f"{what}: Items is not a list of objects")
    return items
