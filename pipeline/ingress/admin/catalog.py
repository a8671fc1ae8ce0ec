"""`GET /v1/event-types`: the normalized types and each one's JSON Schema."""

from __future__ import annotations

from aiohttp import web

from pipeline.events.catalog import Catalog
from pipeline.http.openapi import Answer, Operation, ref
from pipeline.ingress.admin.http import ADMIN_ANSWERS
from pipeline.web import json_response

CATALOG = web.AppKey("catalog", Catalog)


async def event_types(request: web.Request) -> web.Response:
    return json_response({"data": request.app[CATALOG].listing()})


OPERATIONS = (
    Operation(
        "get",
        "/v1/event-types",
        "The event catalog",
        "catalog",
        (
            Answer(200, "every normalized type with its JSON Schema", ref("EventTypes")),
            *ADMIN_ANSWERS,
        ),
        admin=True,
    ),
)


def add_routes(app: web.Application, catalog: Catalog) -> None:
    app[CATALOG] = catalog
    app.router.add_get("/event-types", event_types)
