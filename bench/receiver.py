"""The subscriber, a process of its own: `python -m bench.receiver PORT`.

`POST /hook` records each delivery's arrival (`time.monotonic()`), `webhook-id`, CloudEvent id and
whether its Standard Webhooks signature verifies, and answers 200. The session reads the records
with `GET /records?since=N` and sets the subscription's secret with `PUT /secret`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import web


@dataclass
class DeliveryLog:
    """Every delivery so far, in columns."""

    arrived: list[float] = field(default_factory=list)
    webhook_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    signed: list[bool] = field(default_factory=list)
    key: bytes | None = None  # the subscription's signing key, once the session sets it


LOG = web.AppKey("log", DeliveryLog)


def verifies(key: bytes | None, request: web.Request, body: bytes) -> bool:
    """The `v1,` signature over `id.timestamp.body` matches `key` (False when no key is set)."""
    if key is None:
        return False
    headers = request.headers
    content = f"{headers.get('webhook-id', '')}.{headers.get('webhook-timestamp', '')}.".encode()
    digest = hmac.new(key, content + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    given = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, signature) for signature in given)


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
    log.signed.append(verifies(log.key, request, body))
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
    secret = (await request.text()).strip().removeprefix("whsec_")
    request.app[LOG].key = base64.b64decode(secret + "=" * (-len(secret) % 4))
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
