"""HTTP plumbing shared by the aiohttp processes: JSON errors, health pages, serving to a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from pipeline import metrics
from pipeline.http.openapi import Answer, Operation

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """The one error shape of every API: `{"error": {"code": …, "message": …}}`."""
    return json_response({"error": {"code": code, "message": message}}, status, headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405/413 and unexpected exceptions answer in the JSON error shape too."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return error(413, "body_too_large", "the request body is over the size limit")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error(exc.status, code, exc.reason, headers={"Allow": exc.headers.get("Allow", "")})
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error(500, "internal_error", "the server failed to handle the request")


_STATUS = {"$ref": "#/components/schemas/Status"}
HEALTH_OPERATIONS = (
    Operation("get", "/healthz", "Alive", "health", (Answer(200, "the process runs", _STATUS),)),
    Operation(
        "get",
        "/readyz",
        "Ready",
        "health",
        (
            Answer(
                200,
                "connected to Kafka, configuration loaded (worker and poller: and readable)",
                _STATUS,
            ),
            Answer(503, "not (yet) ready", _STATUS),
        ),
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics",
        "health",
        (Answer(200, "the Prometheus text format"),),
    ),
)


def add_health_routes(
    app: web.Application,
    ready: Callable[[], Awaitable[bool]],
    render: Callable[[], tuple[bytes, str]] = metrics.render,
) -> None:
    """`/healthz` (alive), `/readyz` (`ready()` says it can serve), `/metrics` (`render()`)."""

    async def healthz(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        if await ready():
            return json_response({"status": "ready"})
        return json_response({"status": "not ready"}, status=503)

    async def metrics_page(request: web.Request) -> web.Response:
        body, content_type = render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)


async def serve_until_signal(
    app: web.Application,
    host: str,
    port: int,
    name: str,
    *,
    reuse_port: bool = False,
    before_listening: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Serve `app` until SIGINT or SIGTERM, then finish in-flight requests and clean up.

    `reuse_port` (SO_REUSEPORT): several processes listen on the port, the kernel spreads the
    connections among them. `before_listening` is awaited after the app started and before the
    port is opened (a signal meanwhile stops without listening).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    try:
        if before_listening is not None:
            await _first(before_listening(), stop.wait())
        if not stop.is_set():
            site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
            await site.start()
            log.info("%s listening on http://%s:%d", name, host, port)
            await stop.wait()
        log.info("%s stopping", name)
    finally:
        await runner.cleanup()
        log.info("%s stopped", name)


async def _first(*awaitables: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
