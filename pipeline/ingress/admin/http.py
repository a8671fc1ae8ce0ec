"""Request and error plumbing shared by the admin API's resources."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from pipeline.config.requests import NotFoundError, RequestError
from pipeline.config.view import UnreadableRecordError
from pipeline.errors import KafkaUnavailableError
from pipeline.http.openapi import Answer, Param
from pipeline.web import Handler, error


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is `{}`)."""
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise RequestError("body", f"is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError("body", "must be a JSON object")
    return body


@web.middleware
async def admin_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Field errors → 422 naming the field; Kafka down → 503."""
    try:
        return await handler(request)
    except RequestError as exc:
        return error(422, exc.code, str(exc))
    except NotFoundError as exc:
        return error(404, exc.code, str(exc))
    except KafkaUnavailableError as exc:
        return error(503, exc.code, "Kafka is unavailable; retry later")
    except UnreadableRecordError as exc:  # exists, but this process cannot open it
        return error(503, exc.code, f"{exc}; fix the key ring (PIPELINE_SECRET_KEYS) or retry")


# The answers every admin operation may give, for the OpenAPI document (`pipeline.http.openapi`).
UNAUTHORIZED = Answer(
    401,
    "no or a wrong bearer token, or the admin API is off",
    codes=("unauthorized", "admin_disabled"),
)
INVALID = Answer(422, "a field is wrong; the message names it", codes=("invalid_field",))
NOT_FOUND = Answer(404, "no such id", codes=("not_found",))
UNAVAILABLE = Answer(
    503,
    "Kafka is unavailable, or the record cannot be opened with this process's key ring",
    codes=("kafka_unavailable", "config_unreadable"),
)
ADMIN_ANSWERS = (UNAUTHORIZED, UNAVAILABLE)
ID = Param("id", "path", "the resource's id")
