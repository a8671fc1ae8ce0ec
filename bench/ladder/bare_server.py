"""Baseline: bare aiohttp answering 202 without Kafka (`python -m bench.ladder.bare_server PORT`).

It reads the body and answers as the ingress does for an accepted webhook, so the load generator's
figures against it are this machine's HTTP-stack limit for the same requests.
"""

from __future__ import annotations

import sys
import uuid

import orjson
from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    request_id = uuid.uuid4().hex
    body = orjson.dumps({"request_id": request_id})
    headers = {"X-Request-Id": request_id}
    return web.Response(status=202, body=body, content_type="application/json", headers=headers)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main(argv: list[str]) -> int:
    app = web.Application()
    app.router.add_post("/v1/webhooks/{provider}/{instance_key}", accept)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(argv[0]), print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
