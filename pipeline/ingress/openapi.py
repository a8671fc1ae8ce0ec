"""`GET /openapi.json`: the ingress's HTTP API (webhooks, admin API, health) as OpenAPI 3.1.

Assembled from the `OPERATIONS` each route module declares beside its routes, so the document
changes with them; no admin token is needed to read it. `pipeline.docs_gen` renders the docs'
API reference from the same document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline import __version__
from pipeline.http.openapi import Answer, Operation, document
from pipeline.ingress import api_schemas, handshakes, webhooks
from pipeline.ingress.admin import catalog, instances, oauth, subscriptions
from pipeline.web import HEALTH_OPERATIONS, json_response

DESCRIPTION = (
    "Providers' webhooks in, and the admin API of instances (provider accounts) and "
    "subscriptions (signed callbacks). Every error is JSON "
    '`{"error": {"code": "…", "message": "…"}}`; the `code` values each operation may answer '
    "are listed with its statuses."
)
OPENAPI_OPERATION = Operation(
    "get",
    "/openapi.json",
    "This document",
    "health",
    (Answer(200, "the OpenAPI 3.1 document of this API", {"type": "object"}),),
)


def operations() -> tuple[Operation, ...]:
    """Every operation the ingress serves, in the order of the reference."""
    return (
        *webhooks.OPERATIONS,
        *handshakes.OPERATIONS,
        *instances.OPERATIONS,
        *subscriptions.OPERATIONS,
        *oauth.OPERATIONS,
        *catalog.OPERATIONS,
        *HEALTH_OPERATIONS,
        OPENAPI_OPERATION,
    )


def openapi_document(topics_dir: Path) -> dict[str, Any]:
    return document(
        "Social events pipeline: ingress API",
        __version__,
        DESCRIPTION,
        operations(),
        api_schemas.schemas(topics_dir),
    )


def add_route(app: web.Application, topics_dir: Path) -> None:
    served = json_response(openapi_document(topics_dir))

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=served.body, content_type="application/json")

    app.router.add_get("/openapi.json", openapi)
