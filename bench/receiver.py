"""The subscriber, a process of its own: `python -m bench.receiver PORT`.

`POST /hook` records each delivery's arrival (`time.monotonic()`), `webhook-id`, CloudEvent id and
whether its Standard Webhooks signature verifies, and answers 200. The session reads the records
with `GET /records?since=N` and sets the subscription's secret with `PUT /secret`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from pipeline.http.standard_webhooks import SecretFormatError, SignatureMismatchError, verify


@dataclass
class DeliveryLog:
    """Every delivery so far, in columns."""

    arrived: list[float] = field(default_factory=list)
    webhook_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    signed: list[bool] = field(default_factory=list)
    secret: str | None = None  # the subscription's signing secret, once the session sets it


LOG = web.AppKey("log", DeliveryLog)


def verifies(secret: str | None, request: web.Request, body: bytes) -> bool:
    """The Standard Webhooks signature verifies under `secret` (False when no secret is set)."""
    if secret is None:
        return False
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        verify([secret], headers, body, now=time.time())
    except (SignatureMismatchError, SecretFormatError):
        return False
    return True


async def hook(request: web.Request) -> web.Response:
    body = await request.read()
    arrived = time.monotonic()  # no await from here to the append: the log stays in time order
    log = request.app[LOG]
    try:
        event_id = str(orjson.loads(body).get("id"))
    except (orjson.JSONDecodeError, AttributeError):
        event_id = ""
    log.arrived.append(arrived)
    log.webhook_ids.append(request.headers.get("webhook-id", ""))
    log.event_ids.append(event_id)
    log.signed.append(verifies(log.secret, request, body))
    return web.Response(status=200)


async def records(request: web.Request) -> web.Response:
    log = request.app[LOG]
    since = int(request.query.get("since", "0"))
    body = {
        "next": len(log.arrived),
        "arrived": log.arrived[since:],
        "webhook_ids": log.webhook_ids[since:],
        "event_ids": log.event_ids[since:],
        "signed": log.signed[since:],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def set_secret(request: web.Request) -> web.Response:
    request.app[LOG].secret = (await request.text()).strip()
    return web.Response(status=204)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app() -> web.Application:
    app = web.Application()
    app[LOG] = DeliveryLog()
    app.router.add_post("/hook", hook)
    app.router.add_get("/records", records)
    app.router.add_put("/secret", set_secret)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str]) -> int:
    web.run_app(create_app(), host="127.0.0.1", port=int(argv[0]), print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
