"""`pipeline receiver`: a subscriber endpoint that prints each delivery it gets, one line each.

With `--secret whsec_…` it checks the Standard Webhooks signature and says whether it matched.
"""

from __future__ import annotations

import hmac
import time

import orjson
from aiohttp import web

from pipeline.delivery.errors import InvalidSecretError
from pipeline.delivery.signing import sign
from pipeline.web import serve_until_signal


def verdict(secret: str | None, request: web.Request, body: bytes) -> str:
    if not secret:
        return "unchecked"
    msg_id = request.headers.get("webhook-id", "")
    timestamp = request.headers.get("webhook-timestamp", "")
    try:
        expected = sign(secret, msg_id, int(timestamp), body)
    except (ValueError, InvalidSecretError):
        return "BAD SIGNATURE"
    given = request.headers.get("webhook-signature", "").split()
    matched = any(hmac.compare_digest(candidate, expected) for candidate in given)
    return "signature ok" if matched else "BAD SIGNATURE"


def create_receiver(secret: str | None) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        event = orjson.loads(body)
        stamp = time.strftime("%H:%M:%S")
        print(  # noqa: T201 - printing deliveries is this demo program's whole job
            f"{stamp} delivery {request.headers.get('webhook-id')} "
            f"[{verdict(secret, request, body)}]: {event.get('type')} {event.get('subject')} "
            f"from {event.get('source')}",
            flush=True,
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


async def run_receiver(host: str, port: int, secret: str | None) -> None:
    await serve_until_signal(create_receiver(secret), host, port, "demo receiver")
