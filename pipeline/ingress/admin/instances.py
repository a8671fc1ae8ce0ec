"""Admin API for instances: `/v1/instances` → `config.instances` (compacted; tombstone on delete).

Secrets and credentials are write-only: a generated `signing_secret` is shown once, on create.
Cloud Elements' body is accepted too; its `providerData.code` is exchanged for tokens before the
instance is written, and a code the provider refuses stores nothing (422 with its error).
"""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web

from pipeline.config.cloud_elements import AuthorizationCode, translate
from pipeline.config.instances import Instance, create_instance, patch_instance
from pipeline.config.requests import RequestError
from pipeline.http.openapi import Answer, Operation, Param, ref
from pipeline.ingress.admin.callbacks import sync_callback
from pipeline.ingress.admin.http import ADMIN_ANSWERS, ID, INVALID, NOT_FOUND, read_json
from pipeline.ingress.admin.oauth import CodeRefusedError, api_base_url, exchange_code
from pipeline.ingress.context import INGRESS
from pipeline.web import error, json_response

log = logging.getLogger(__name__)


def _not_found(instance_id: str) -> web.Response:
    return error(404, "not_found", f"no instance {instance_id!r}")


async def create(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    body, code = translate(await read_json(request))
    instance, generated = create_instance(body)
    if ingress.instances.holds(instance.id):
        return error(409, "conflict", f"instance {instance.id!r} exists")
    if code is not None:
        try:
            instance = await _with_tokens(instance, code)
        except CodeRefusedError as exc:
            return _refused(exc)
    await ingress.put_instance(instance.id, instance)
    callback_secret = await sync_callback(ingress, instance.id, instance)
    shown = ingress.show(instance)
    if generated:
        shown["signing_secret"] = generated
    if callback_secret:
        shown["callback_secret"] = callback_secret
    return json_response(shown, 201)


async def _with_tokens(instance: Instance, code: AuthorizationCode) -> Instance:
    """The instance holding the tokens its authorization code is exchanged for."""
    if instance.provider != "hootsuite":
        raise RequestError("providerData.code", "is exchanged for hootsuite instances only")
    client_id = instance.credentials.get("client_id")
    client_secret = instance.credentials.get("client_secret")
    if not client_id or not client_secret:
        raise RequestError("configuration", "a code needs oauth.api.key and oauth.api.secret")
    base_url = api_base_url(instance.api_base_url, instance.polling)
    tokens = await exchange_code(base_url, client_id, client_secret, code)
    return msgspec.structs.replace(instance, credentials={**instance.credentials, **tokens})


def _refused(exc: CodeRefusedError) -> web.Response:
    log.info("authorization code refused: %s", exc)
    found = {"code": exc.code, "message": str(exc), "provider_error": exc.provider_error}
    return json_response({"error": found}, 422)


async def list_all(request: web.Request) -> web.Response:
    """Every instance, by id; `?tag=a&tag=b` keeps those carrying every tag named."""
    ingress = request.app[INGRESS]
    tags = set(request.query.getall("tag", []))
    found = [i for i in ingress.instances.values() if tags <= set(i.tags)]
    return json_response({"data": [ingress.show(i) for i in sorted(found, key=_by_id)]})


def _by_id(instance: Instance) -> str:
    return instance.id


async def get_one(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    instance = ingress.instances.get(request.match_info["id"])
    if instance is None:
        return _not_found(request.match_info["id"])
    return json_response(ingress.show(instance))


async def patch(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    instance = ingress.instances.get(request.match_info["id"])
    if instance is None:
        return _not_found(request.match_info["id"])
    updated = patch_instance(instance, await read_json(request))
    await ingress.put_instance(updated.id, updated)
    callback_secret = await sync_callback(ingress, updated.id, updated)
    shown = ingress.show(updated)
    if callback_secret:
        shown["callback_secret"] = callback_secret
    return json_response(shown)


async def delete(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    instance_id = request.match_info["id"]
    if not ingress.instances.holds(instance_id):  # a record it cannot read is deleted too
        return _not_found(instance_id)
    await ingress.put_instance(instance_id, None)
    await sync_callback(ingress, instance_id, None)
    return web.Response(status=204)


_SHOWN = Answer(200, "the instance, without secrets", ref("Instance"))
OPERATIONS = (
    Operation(
        "post",
        "/v1/instances",
        "Create an instance",
        "instances",
        (
            Answer(201, "created; a generated signing_secret is shown this once", ref("Instance")),
            Answer(409, "an instance with this id exists", codes=("conflict",)),
            Answer(
                422,
                "a field is wrong, or the provider refused the code",
                codes=("invalid_field", "code_refused"),
            ),
            *ADMIN_ANSWERS,
        ),
        description="Takes this API's fields or Cloud Elements' body; a `providerData.code` is "
        "exchanged for tokens before the answer.",
        body=ref("InstanceInput"),
        admin=True,
    ),
    Operation(
        "get",
        "/v1/instances",
        "List instances",
        "instances",
        (Answer(200, "every instance, by id", ref("InstanceList")), *ADMIN_ANSWERS),
        params=(Param("tag", "query", "keep those carrying every tag named (repeatable)"),),
        admin=True,
    ),
    Operation(
        "get",
        "/v1/instances/{id}",
        "Show an instance",
        "instances",
        (_SHOWN, NOT_FOUND, *ADMIN_ANSWERS),
        params=(ID,),
        admin=True,
    ),
    Operation(
        "patch",
        "/v1/instances/{id}",
        "Change an instance",
        "instances",
        (_SHOWN, NOT_FOUND, INVALID, *ADMIN_ANSWERS),
        description="`id` and `provider` are fixed; other fields given replace the stored ones.",
        params=(ID,),
        body=ref("InstanceInput"),
        admin=True,
    ),
    Operation(
        "delete",
        "/v1/instances/{id}",
        "Delete an instance",
        "instances",
        (Answer(204, "deleted (a tombstone on config.instances)"), NOT_FOUND, *ADMIN_ANSWERS),
        params=(ID,),
        admin=True,
    ),
)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/instances", create)
    app.router.add_get("/instances", list_all)
    app.router.add_get("/instances/{id}", get_one)
    app.router.add_patch("/instances/{id}", patch)
    app.router.add_delete("/instances/{id}", delete)
