"""An async client for Hootsuite's REST API: OAuth2 tokens, rate limiting, retries, messages.

Flow: Hootsuite REST → this client → the Hootsuite poller → `polls.raw`. Hootsuite pushes no
message status, so the poller lists messages through this client and diffs what it sees.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from pipeline.http.retry_after import parse_retry_after
from pipeline.pollers.rate_limit import TokenBucket
from pipeline.providers.errors import (
    AuthError,
    PollerError,
    ProviderResponseError,
    ProviderUnavailableError,
    RateLimitedError,
)
from pipeline.providers.hootsuite_rest import MAX_WINDOW

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
TOKEN_RENEW_MARGIN = 60.0  # renew this many seconds before expiry, so no request races it
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
WINDOW_JITTER = 0.25


@dataclass(frozen=True)
class HootsuiteCredentials:
    """An OAuth2 client; the secrets stay out of `repr` so they never reach a log line."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)


@dataclass
class ClientStats:
    """Counters for metrics: requests sent, retries, 429 waits, and token renewals."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    token_refreshes: int = 0


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    token: str | None  # the access token the request carried, if any


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error_codes(reply: _Reply) -> str:
    """The provider's error codes, for messages; the body may echo request data, so no more."""
    try:
        errors = orjson.loads(reply.body).get("errors", [])
        codes = [str(error["code"]) for error in errors]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return ""
    return f" (codes {', '.join(codes)})" if codes else ""


def _ok_body(reply: _Reply, what: str) -> dict[str, Any]:
    if reply.status != 200:
        raise ProviderResponseError(f"{what}: HTTP {reply.status}{_error_codes(reply)}")
    try:
        body = orjson.loads(reply.body)
    except orjson.JSONDecodeError as exc:
        raise ProviderResponseError(f"{what}: body is not JSON") from exc
    if not isinstance(body, dict):
        raise ProviderResponseError(f"{what}: body is not a JSON object")
    return body


def _page(reply: _Reply) -> tuple[list[dict[str, Any]], str | None]:
    body = _ok_body(reply, "GET /v1/messages")
    data = body.get("data")
    metadata = body.get("metadata")
    cursor = metadata.get("cursor") if isinstance(metadata, dict) else None
    following = cursor.get("next") if isinstance(cursor, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ProviderResponseError("GET /v1/messages: `data` is not a list of messages")
    if following is not None and not isinstance(following, str):
        raise ProviderResponseError("GET /v1/messages: `metadata.cursor.next` is not a string")
    return data, following or None


def _listing_params(
    start: datetime, end: datetime, profile_ids: Iterable[str | int], limit: int
) -> list[tuple[str, str]]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end < start or end - start > MAX_WINDOW:
        raise ValueError("end must be after start and at most 4 weeks later")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    params = [("startTime", _iso_utc(start)), ("endTime", _iso_utc(end)), ("limit", str(limit))]
    return params + [("socialProfileIds", str(profile)) for profile in profile_ids]


class HootsuiteClient:
    """Hootsuite's REST API for one OAuth2 client, within its rate limit, riding out faults."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: HootsuiteCredentials,
        *,
        max_requests_per_second: float = 20.0,
        timeout: float = 10.0,
        max_retries: int = 4,
        retry_after_cap: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_rotated: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._refresh_token = credentials.refresh_token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max_retries
        self._retry_after_cap = retry_after_cap
        # Wall-clock time by default: Hootsuite's 1-second windows and token expiry follow it.
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter only, nothing secret  # noqa: S311
        self._limiter = TokenBucket(max_requests_per_second, clock=clock, sleep=sleep)
        self._token: str | None = None
        self._token_expires_at = float("-inf")
        self._token_lock = asyncio.Lock()
        # Awaited with each new refresh token before its access token is used (to persist it).
        self._on_rotated = on_rotated
        self.stats = ClientStats()

    def list_messages(
        self,
        start: datetime,
        end: datetime,
        *,
        states: Iterable[str] | None = None,
        social_profile_ids: Iterable[str | int] | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[dict[str, Any]]:
        """Messages scheduled within [start, end], page by page; arguments are checked at once.

        The API filters on one state per listing, so several `states` mean one listing each.
        """
        params = _listing_params(start, end, social_profile_ids or (), limit)
        wanted: list[str | None] = [*(states or ())]
        return self._listings(params, wanted or [None])

    async def _listings(
        self, params: list[tuple[str, str]], states: list[str | None]
    ) -> AsyncIterator[dict[str, Any]]:
        for state in states:
            state_params = [("state", state)] if state else []
            cursor: str | None = None
            while True:
                cursor_params = [("cursor", cursor)] if cursor else []
                reply = await self._api_get("/v1/messages", params + state_params + cursor_params)
                messages, following = _page(reply)
                for message in messages:
                    yield message
                if following is None:
                    break
                if following == cursor:
                    raise ProviderResponseError("GET /v1/messages: the cursor did not advance")
                cursor = following

    async def get_message(self, message_id: str) -> dict[str, Any] | None:
        """One message, or None when Hootsuite does not know it (deleted, or never existed)."""
        reply = await self._api_get(f"/v1/messages/{quote(message_id, safe='')}", [])
        if reply.status == 404:
            return None
        data = _ok_body(reply, "GET /v1/messages/{id}").get("data")
        # Documented as an object, but recorded real responses carry a one-element array.
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise ProviderResponseError("GET /v1/messages/{id}: `data` is not one message")
        return data

    async def _api_get(self, path: str, params: list[tuple[str, str]]) -> _Reply:
        reply = await self._send("GET", path, params=params)
        if reply.status == 401:
            # Revoked or expired before our clock said so: renew once and try the call again.
            self._forget_token(reply.token)
            reply = await self._send("GET", path, params=params)
            if reply.status == 401:
                raise AuthError(f"GET {path}: access token refused right after renewal")
        return reply

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires_at - TOKEN_RENEW_MARGIN:
                return await self._fetch_token()
            return self._token

    def _forget_token(self, token: str | None) -> None:
        # Only the token that failed: a concurrent call may already have renewed it.
        if token is not None and token == self._token:
            self._token_expires_at = float("-inf")

    async def _fetch_token(self) -> str:
        form = {"grant_type": "client_credentials"}
        if self._refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        basic = aiohttp.encode_basic_auth(
            self._credentials.client_id, self._credentials.client_secret
        )
        reply = await self._send("POST", "/oauth2/token", basic=basic, data=form)
        if reply.status != 200:
            raise AuthError(f"token request refused: HTTP {reply.status}{_error_codes(reply)}")
        body = _ok_body(reply, "POST /oauth2/token")
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not isinstance(expires_in, int | float):
            raise AuthError("token response lacks access_token or expires_in")
        rotated = body.get("refresh_token")
        if self._refresh_token and isinstance(rotated, str) and rotated != self._refresh_token:
            # The old one may be dead now: keep the new one in memory whatever happens next,
            # and use the access token only once `on_rotated` kept it (if that raises, the next
            # request refreshes again with it, and that rotation is kept instead).
            self._refresh_token = rotated
            if self._on_rotated is not None:
                await self._on_rotated(rotated)
        if self._token is not None:
            self.stats.token_refreshes += 1
        self._token, self._token_expires_at = token, self._clock() + expires_in
        logger.info("hootsuite access token obtained, valid for %ss", expires_in)
        return token

    async def _send(
        self, method: str, path: str, *, basic: str | None = None, **kwargs: Any
    ) -> _Reply:
        """One request, retried on 429, 5xx, timeouts and connection errors.

        It carries the current access token, or `basic` client credentials for the token endpoint.
        """
        attempt = 0
        while True:
            token = None if basic else await self._access_token()
            authorization = basic or f"Bearer {token}"
            outcome = await self._attempt(method, path, authorization, attempt, kwargs)
            if isinstance(outcome, _Reply):
                return replace(outcome, token=token)
            error, delay = outcome
            if attempt >= self._max_retries:
                raise error
            attempt += 1
            self.stats.retries += 1
            if isinstance(error, RateLimitedError):
                self.stats.rate_limit_waits += 1
            # DEBUG: the instance's failure log says once what a failing cycle is about.
            logger.debug(
                "hootsuite %s; retry %d/%d in %.2fs", error, attempt, self._max_retries, delay
            )
            await self._sleep(delay)

    async def _attempt(
        self, method: str, path: str, authorization: str, attempt: int, kwargs: dict[str, Any]
    ) -> _Reply | tuple[PollerError, float]:
        """The reply, or the error to raise if out of retries and the delay before the next try."""
        await self._limiter.acquire()
        self.stats.requests += 1
        headers = {"Authorization": authorization}
        url = self._base_url + path
        try:
            async with self._session.request(
                method, url, headers=headers, timeout=self._timeout, **kwargs
            ) as response:
                reply = _Reply(response.status, response.headers, await response.read(), None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # aiohttp can report our own cancellation as its timeout: never retry through it.
                raise asyncio.CancelledError from exc
            error = ProviderUnavailableError(f"{method} {path}: {type(exc).__name__}")
            error.__cause__ = exc
            return error, self._backoff(attempt)
        if reply.status == 429:
            limited = RateLimitedError(f"{method} {path}: HTTP 429{_error_codes(reply)}")
            return limited, self._rate_limit_delay(reply)
        if reply.status >= 500:
            failed = ProviderUnavailableError(f"{method} {path}: HTTP {reply.status}")
            return failed, self._backoff(attempt)
        return reply

    def _backoff(self, attempt: int) -> float:
        # Full jitter: many pollers failing together must not come back together.
        return self._rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))

    def _rate_limit_delay(self, reply: _Reply) -> float:
        value = reply.headers.get("Retry-After")
        retry_after = None if value is None else parse_retry_after(value, now=self._clock())
        if retry_after is not None:
            return min(retry_after, self._retry_after_cap)
        # Hootsuite sends no Retry-After; its quota is per second, so it is back once the
        # current second ends. Jitter keeps clients throttled together from returning together.
        return 1.0 - self._clock() % 1.0 + self._rng.uniform(0.0, WINDOW_JITTER)
