"""Onboarding by OAuth 2 (Cloud Elements' "getting a redirect URL" and `providerData.code` steps).

`GET /v1/oauth/authorize-url` → the address to send the user to; the code the provider sends back
to the redirect URI arrives in `POST /v1/instances` and is exchanged here, before the instance is
stored: admin API → `POST {api_base_url}/oauth2/token` → the instance's credentials.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp import web

from pipeline.config.cloud_elements import AuthorizationCode
from pipeline.config.requests import RequestError, url
from pipeline.errors import PipelineError
from pipeline.http.openapi import Answer, Operation, Param
from pipeline.ingress.admin.http import ADMIN_ANSWERS, INVALID
from pipeline.pollers.polling_config import DEFAULT_API_BASE_URL
from pipeline.web import json_response

EXCHANGE_TIMEOUT = 10.0  # seconds; the admin request waits for it
OAUTH_PROVIDERS = ("hootsuite",)


class CodeRefusedError(PipelineError):
    """The provider did not exchange the authorization code; answered 422, nothing stored."""

    code = "code_refused"

    def __init__(self, message: str, provider_error: Any) -> None:
        super().__init__(message)
        self.provider_error = provider_error


def api_base_url(explicit: str | None, polling: dict[str, Any]) -> str:
    """Where the provider's API is: the instance's `api_base_url`, `polling.api_base_url`, or
    the real one."""
    return str(explicit or polling.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")


async def exchange_code(
    base_url: str, client_id: str, client_secret: str, code: AuthorizationCode
) -> dict[str, str]:
    """Hootsuite's `authorization_code` grant (HTTP Basic client auth): the tokens it returns."""
    form = {"grant_type": "authorization_code", "code": code.code}
    if code.redirect_uri:
        form["redirect_uri"] = code.redirect_uri
    headers = {"Authorization": aiohttp.encode_basic_auth(client_id, client_secret)}
    timeout = aiohttp.ClientTimeout(total=EXCHANGE_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(base_url + "/oauth2/token", data=form, headers=headers) as response,
        ):
            status, body = response.status, await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        message = f"the token endpoint could not be reached: {type(exc).__name__}"
        raise CodeRefusedError(message, None) from exc
    answer = _json(body)
    tokens = {
        key: answer[key]
        for key in ("access_token", "refresh_token")
        if isinstance(answer, dict) and isinstance(answer.get(key), str)
    }
    if status != 200 or "access_token" not in tokens:
        # The provider's error only: its documented shape holds codes and messages, no secrets.
        error = answer.get("errors", answer.get("error")) if isinstance(answer, dict) else None
        raise CodeRefusedError(f"the provider refused the code: HTTP {status}", error)
    return tokens


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


async def authorize_url(request: web.Request) -> web.Response:
    """`{"url": …}`: the provider's consent page for `client_id`, `redirect_uri`, `state`."""
    query = dict(request.query)
    if query.get("provider") not in OAUTH_PROVIDERS:
        raise RequestError("provider", f"must be one of {', '.join(OAUTH_PROVIDERS)}")
    for required in ("client_id", "redirect_uri"):
        if not query.get(required):
            raise RequestError(required, "is required")
    url(query, "redirect_uri")
    base = api_base_url(url(query, "api_base_url"), {})
    params = {
        "response_type": "code",
        "client_id": query["client_id"],
        "redirect_uri": query["redirect_uri"],
        "scope": "offline",
    }
    if query.get("state"):
        params["state"] = query["state"]
    return json_response({"url": f"{base}/oauth2/auth?{urlencode(params)}"})


_URL = {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}
OPERATIONS = (
    Operation(
        "get",
        "/v1/oauth/authorize-url",
        "The provider's consent page",
        "onboarding",
        (Answer(200, "the address to send the user to", _URL), INVALID, *ADMIN_ANSWERS),
        description='Cloud Elements\' "getting a redirect URL": the code the provider gives back '
        "goes into `providerData.code` of a new instance.",
        params=(
            Param("provider", "query", "hootsuite", required=True),
            Param("client_id", "query", "the app's client id", required=True),
            Param("redirect_uri", "query", "where the provider sends the user back", required=True),
            Param("state", "query", "returned to redirect_uri as it was"),
            Param("api_base_url", "query", "the provider's API (default: the real one)"),
        ),
        admin=True,
    ),
)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/oauth/authorize-url", authorize_url)
