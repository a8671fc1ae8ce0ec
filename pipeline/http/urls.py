"""Callback URL syntax: absolute http(s), a host, no credentials — read by yarl, as aiohttp does.

The admin API checks a URL when it is stored and delivery checks it again before each attempt;
both go through `callback_host`, so a URL the admin API accepts is a URL delivery connects to.
"""

from __future__ import annotations

import yarl

from pipeline.errors import PipelineError

ALLOWED_SCHEMES = frozenset({"http", "https"})


class URLSyntaxError(PipelineError, ValueError):
    """The URL is not absolute http(s) with a host, or carries credentials.

    `reason` is a short machine-readable word; messages name the host at most, since paths and
    queries may carry subscriber tokens.
    """

    code = "invalid_url"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def callback_host(url: str) -> str:
    """The host `url` connects to; `URLSyntaxError` if it is not a deliverable URL."""
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError):
        raise URLSyntaxError("invalid_url", "the URL cannot be parsed") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise URLSyntaxError("unsupported_scheme", "only http and https URLs are allowed")
    if not parsed.host:
        raise URLSyntaxError("invalid_url", "the URL has no host")
    if parsed.user is not None or parsed.password is not None:
        raise URLSyntaxError(
            "credentials_in_url", "credentials belong in the signing secret, not the URL"
        )
    return parsed.host
