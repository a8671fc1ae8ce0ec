"""An async client for Oktopost's webhooks API (`/v2/webhook`, `/v2/webhook-log/{id}`).

Flow: the webhook manager → this client → Oktopost. HTTP Basic `ACCOUNT_ID:API_KEY`, form
bodies, answers wrapped as `{"Result": true, "Items": […], "Total": n}` or
`{"Result": true, "Webhook": {…}}`; lists are read by `oktopost.paging` (pages from 0).
Failures are the pollers' errors, so an instance's health reads them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from pipeline.oktopost.paging import Listing, read_pages
from pipeline.providers.errors import AuthError, ProviderResponseError, ProviderUnavailableError

DEFAULT_API_BASE_URL = "https://api.oktopost.com"
PAGE_SIZES = (20, 25, 50, 100)  # the `_count` values Oktopost accepts
PAGE_SIZE = 100
HTTP_BAD_REQUEST, HTTP_NOT_FOUND = 400, 404
# Read for a page the server refused or a log it does not have: nothing, and no Total.
EMPTY_PAGE: dict[str, Any] = {"Result": True, "Items": []}
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

    def __init__(
        self,
        session: aiohttp.ClientSession,
        account: OktopostAccount,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if page_size not in PAGE_SIZES:
            raise ValueError(f"page_size must be one of {PAGE_SIZES}")
        self._session = session
        self._base = account.base_url.rstrip("/")
        self._authorization = aiohttp.encode_basic_auth(account.account_id, account.api_key)
        self._page_size = page_size

    async def webhooks(self) -> Listing:
        """Every webhook of the account, page by page, and whether the listing is complete."""
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
        gone = frozenset({HTTP_NOT_FOUND})
        await self._call("DELETE", f"/v2/webhook/{webhook_id}", empty_on=gone)

    async def log(self, webhook_id: str) -> list[dict[str, Any]]:
        """The webhook's delivery history (`Payload`, `ResponseCode`, …), page by page; empty
        for a webhook Oktopost does not have (404)."""
        listing = await self._pages(f"/v2/webhook-log/{webhook_id}", missing_ok=True)
        return listing.items

    async def _pages(self, path: str, *, missing_ok: bool = False) -> Listing:
        async def fetch(page: int) -> dict[str, Any]:
            params = {"_count": str(self._page_size), "_page": str(page)}
            # A server counting pages from 1 may refuse page 0: read as an empty page 0, it
            # makes the pager ask for page 1 (`oktopost.paging`).
            empty_on = {HTTP_BAD_REQUEST} if page == 0 else set()
            empty_on |= {HTTP_NOT_FOUND} if missing_ok else set()
            answer = await self._call("GET", path, params=params, empty_on=frozenset(empty_on))
            return answer or EMPTY_PAGE

        return await read_pages(fetch, self._page_size, f"GET {path}")

    async def _call(
        self, method: str, path: str, *, empty_on: frozenset[int] = frozenset(), **kwargs: Any
    ) -> dict[str, Any]:
        """The decoded answer; `{}` for a status in `empty_on`."""
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
        if status in empty_on:
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
