"""The admin API's bearer token: the middleware of the admin sub-application under `/v1`."""

from __future__ import annotations

import hmac

from aiohttp import web

from pipeline.ingress.context import INGRESS
from pipeline.web import Handler, error


@web.middleware
async def require_admin_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[INGRESS].settings.admin_token
    if token is None:
        return error(401, "admin_disabled", "the admin API is off: set PIPELINE_ADMIN_TOKEN")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return error(
            401,
            "unauthorized",
            "send Authorization: Bearer <PIPELINE_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await handler(request)
