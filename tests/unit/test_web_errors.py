"""pipeline.web: the one JSON error shape (aiohttp's own errors too) and the health pages, over
real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pipeline.web import add_health_routes, error, json_errors, json_response

READY = {"now": True}


async def _ok(request: web.Request) -> web.Response:
    return json_response({"ü": [1, 2]}, 201, headers={"X-Extra": "1"})


async def _teapot(request: web.Request) -> web.Response:
    return error(418, "teapot", "short and stout")


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret detail")


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ok")


async def _ready() -> bool:
    return READY["now"]


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(client_max_size=64, middlewares=[json_errors])
    app.router.add_get("/ok", _ok)
    app.router.add_post("/echo", _ok)
    app.router.add_post("/read", _read)
    app.router.add_get("/teapot", _teapot)
    app.router.add_get("/boom", _boom)
    app.router.add_get("/redirect", _redirect)
    add_health_routes(app, _ready, lambda: (b"# metrics\n", "text/plain; version=0.0.4"))
    READY["now"] = True
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def _read(request: web.Request) -> web.Response:
    return json_response({"size": len(await request.read())})


async def test_json_response_and_error_have_the_json_content_type_and_shape(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/ok")
    assert response.status == 201
    assert response.content_type == "application/json"
    assert response.headers["X-Extra"] == "1"
    assert await response.json() == {"ü": [1, 2]}
    response = await client.get("/teapot")
    assert response.status == 418
    assert await response.json() == {"error": {"code": "teapot", "message": "short and stout"}}


async def test_aiohttps_404_and_405_keep_the_shape(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/nowhere")
    assert response.status == 404
    assert await response.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    response = await client.delete("/ok")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD"}


async def test_a_body_over_the_limit_is_413_body_too_large(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/read", data=b"x" * 65)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"
    response = await client.post("/read", data=b"x" * 64)
    assert (response.status, await response.json()) == (200, {"size": 64})


async def test_an_unexpected_exception_is_a_500_that_tells_nothing_and_is_logged(
    client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pipeline.web"):
        response = await client.get("/boom")
        body = await response.text()
    assert response.status == 500
    assert "secret detail" not in body
    assert (await response.json())["error"]["code"] == "internal_error"
    assert "unhandled error on GET /boom" in caplog.text


async def test_a_redirect_passes_through(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/redirect", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/ok"


async def test_health_pages(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/healthz")
    assert (response.status, await response.json()) == (200, {"status": "ok"})
    response = await client.get("/readyz")
    assert (response.status, await response.json()) == (200, {"status": "ready"})
    READY["now"] = False
    response = await client.get("/readyz")
    assert (response.status, await response.json()) == (503, {"status": "not ready"})
    response = await client.get("/healthz")  # alive while not ready
    assert response.status == 200
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4"
    assert await response.read() == b"# metrics\n"
