"""`pipeline receiver`: a subscriber endpoint that prints each delivery it gets, one line each.

With `--secret whsec_…` it checks the Standard Webhooks signature — and that `webhook-timestamp`
is within 5 minutes of now, as a real receiver must to refuse replays — and says whether it matched.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import orjson
from aiohttp import web

from pipeline.http.standard_webhooks import SecretFormatError, SignatureMismatchError, verify
from pipeline.web import serve_until_signal


def verdict(secret: str | None, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """What the printed line says: signature ok, BAD SIGNATURE and why, or unchecked."""
    if not secret:
        return "unchecked"
    try:
        verify([secret], {name.lower(): value for name, value in headers.items()}, body, now=now)
    except (SignatureMismatchError, SecretFormatError) as exc:
        return f"BAD SIGNATURE: {exc}"
    return "signature ok"


def create_receiver(secret: str | None) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        event = orjson.loads(body)
        stamp = time.strftime("%H:%M:%S")
        checked = verdict(secret, request.headers, body, time.time())
        print(  # noqa: T201 - printing deliveries is this demo program's whole job
            f"{stamp} delivery {request.headers.get('webhook-id')} "
            f"[{checked}]: {event.get('type')} {event.get('subject')} "
            f"from {event.get('source')}",
            flush=True,
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


async def run_receiver(host: str, port: int, secret: str | None) -> None:
    await serve_until_signal(create_receiver(secret), host, port, "demo receiver")
