"""The admin API's bearer tokens and audit log: the middleware of the admin sub-application.

`PIPELINE_ADMIN_TOKEN` may hold several comma-separated tokens, so a new one can be handed out
before the old one is withdrawn (rotation without downtime). Every admin request is logged with
its method, path, status and a short fingerprint of the token that authorised it; the token
itself never appears in a log or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from aiohttp import web

from pipeline.ingress.context import INGRESS
from pipeline.web import Handler, error

log = logging.getLogger("pipeline.ingress.audit")

FINGERPRINT_HEX_CHARS = 8
# Log labels, not secrets. A wrong token is not fingerprinted: it may be a secret pasted by mistake.
NO_TOKEN = "none"  # noqa: S105
WRONG_TOKEN = "invalid"  # noqa: S105


def fingerprint(token: str) -> str:
    """A short, stable name for a token in logs: a SHA-256 prefix, not enough to recover it."""
    return hashlib.sha256(token.encode()).hexdigest()[:FINGERPRINT_HEX_CHARS]


def match_token(given: str, accepted: tuple[str, ...]) -> str | None:
    """The accepted token equal to `given`, compared in constant time against every one."""
    found = None
    for token in accepted:
        # No early exit: the time taken does not tell which token (or how many) matched.
        if hmac.compare_digest(given.encode(), token.encode()):
            found = token
    return found


@web.middleware
async def require_admin_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    accepted = request.app[INGRESS].settings.admin_tokens()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    token = match_token(given.strip(), accepted) if scheme.lower() == "bearer" else None
    if not accepted:
        who = NO_TOKEN if not given else WRONG_TOKEN
        response = error(401, "admin_disabled", "the admin API is off: set PIPELINE_ADMIN_TOKEN")
    elif token is None:
        who = NO_TOKEN if not given else WRONG_TOKEN
        response = error(
            401,
            "unauthorized",
            "send Authorization: Bearer <PIPELINE_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    else:
        return await _audited(request, handler, fingerprint(token))
    _log(request, response.status, who)
    return response


async def _audited(request: web.Request, handler: Handler, who: str) -> web.StreamResponse:
    status = 500
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        status = exc.status
        raise
    else:
        status = response.status
        return response
    finally:
        _log(request, status, who)


def _log(request: web.Request, status: int, who: str) -> None:
    # The path only: a query string could carry filters worth keeping out of logs.
    log.info("admin %s %s %d token=%s", request.method, request.path, status, who)
