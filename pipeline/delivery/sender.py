"""deliver agent → subscriber: the HTTP `POST` itself.

One `Sender` holds one connection pool for all deliveries, so keep-alive connections are reused
across events. `post` turns every transport failure into data (status None + a short error) for
`outcome.classify`; it reads at most a small, fixed part of any response body and never follows
redirects (a redirect could point past the destination check). Unless private destinations are
allowed, host names are resolved by `GuardedResolver`: the addresses connected to are the ones
checked, and a refused one raises `DestinationRefusedError`. The deliver agent caps the requests in
flight per subscription, so one slow subscriber cannot hold every pooled connection.
"""

from __future__ import annotations

import asyncio
import functools
import ssl as ssl_module
import time
from collections.abc import Mapping
from types import TracebackType
from typing import NamedTuple

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from pipeline.delivery.guarded_resolver import GuardedResolver


class PostResult(NamedTuple):
    """One attempt's answer; a transport failure is `status` None and a short `error`."""

    status: int | None
    headers: dict[str, str]  # lower-case names
    error: str | None
    seconds: float


@functools.lru_cache(maxsize=4096)
def parsed_url(url: str) -> URL:
    """A subscription's URL parsed once, not on every attempt (aiohttp parses a string each
    time); bounded, so edited or deleted subscriptions' URLs age out."""
    return URL(url)


USER_AGENT = "social-events-pipeline"
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024

# Checked in order: the first matching type names the failure. Texts never include the URL,
# whose path or query may carry a subscriber's token.
_FAILURES: tuple[tuple[type[BaseException], str], ...] = (
    (aiohttp.ClientConnectorDNSError, "dns lookup failed"),
    (aiohttp.ClientSSLError, "tls handshake failed"),
    (aiohttp.ServerDisconnectedError, "server disconnected"),
    (aiohttp.InvalidURL, "invalid url"),
    (aiohttp.ClientPayloadError, "malformed response body"),
    (aiohttp.ClientResponseError, "malformed response"),
    (ConnectionResetError, "connection reset"),
)


class Sender:
    """A pooled HTTP client for deliveries; `start()` before the first `post`, `close()` after."""

    def __init__(
        self,
        *,
        limit: int = 100,
        limit_per_host: int = 20,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_private: bool = False,
        resolver: AbstractResolver | None = None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        """`resolver` and `ssl` replace the system's (tests); `resolver` is guarded unless
        `allow_private`. Certificates are always verified, against the URL's host name."""
        self._allow_private = allow_private
        self._resolver = resolver
        self._ssl: ssl_module.SSLContext | bool = ssl if ssl is not None else True
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the connection pool (needs a running event loop, hence not in `__init__`)."""
        if self._session is not None:
            return
        resolver = self._resolver or aiohttp.DefaultResolver()
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            resolver=resolver if self._allow_private else GuardedResolver(resolver),
            # Each new connection is resolved and checked afresh, as DNS answers change; pooled
            # keep-alive connections need no lookup at all.
            use_dns_cache=False,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"user-agent": USER_AGENT},
            # Bodies are discarded unread beyond a cap; decompressing them could only cost memory.
            auto_decompress=False,
            # Each post carries its own deadline.
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def close(self) -> None:
        """Close the pool and every idle connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Sender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
    ) -> PostResult:
        """One attempt; transport failures and timeouts are returned, never raised.

        Raises `DestinationRefusedError` when the host resolves to an address it may not reach
        (aiohttp wraps only a resolver's OSErrors, so the guard's refusal comes through as is).
        """
        if self._session is None:
            raise RuntimeError("Sender.start() must be awaited before post()")
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                status, response_headers = await self._exchange(self._session, url, body, headers)
        except (aiohttp.ClientError, OSError) as exc:
            # TimeoutError is an OSError: the deadline above and aiohttp's own timeouts land here.
            return PostResult(None, {}, _describe(exc, timeout), time.monotonic() - started)
        return PostResult(status, response_headers, None, time.monotonic() - started)

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
    ) -> tuple[int, dict[str, str]]:
        target = parsed_url(url)
        async with session.post(
            target, data=body, headers=headers, allow_redirects=False
        ) as response:
            await _discard(response.content, self._max_response_bytes)
            return response.status, {key.lower(): value for key, value in response.headers.items()}


async def _discard(content: aiohttp.StreamReader, limit: int) -> None:
    # A body read to its end lets the connection go back to the pool; a longer one is cut off and
    # its connection closed, so a subscriber streaming endlessly costs at most `limit` bytes.
    remaining = limit
    while remaining > 0:
        chunk = await content.read(remaining)
        if not chunk:
            return
        remaining -= len(chunk)


def _describe(exc: BaseException, timeout: float) -> str:
    """A short, secret-free description of a failed attempt, for logs and dead-letter records."""
    if isinstance(exc, TimeoutError):
        return f"timeout after {timeout}s"
    if isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(
        exc, aiohttp.ClientConnectorDNSError | aiohttp.ClientSSLError
    ):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return f"connect failed: {exc.os_error.strerror or type(exc.os_error).__name__}"
    for kind, text in _FAILURES:
        if isinstance(exc, kind):
            return text
    return f"transport error: {type(exc).__name__}"
