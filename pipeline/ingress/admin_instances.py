"""Admin API for instances: `/v1/instances` → `config.instances` (compacted; tombstone on delete).

Secrets and credentials are write-only: a generated `signing_secret` is shown once, on create.
"""

from __future__ import annotations

from aiohttp import web

from pipeline.config.instances import Instance, create_instance, patch_instance
from pipeline.ingress.admin_http import read_json
from pipeline.ingress.callbacks import sync_callback
from pipeline.ingress.context import INGRESS
from pipeline.web import error, json_response


def _not_found(instance_id: str) -> web.Response:
    return error(404, "not_found", f"no instance {instance_id!r}")


async def create(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    instance, generated = create_instance(await read_json(request))
    if ingress.instances.get(instance.id) is not None:
        return error(409, "conflict", f"instance {instance.id!r} exists")
    await ingress.put_instance(instance.id, instance)
    callback_secret = await sync_callback(ingress, instance.id, instance)
    shown = ingress.show(instance)
    if generated:
        shown["signing_secret"] = generated
    if callback_secret:
        shown["callback_secret"] = callback_secret
    return json_response(shown, 201)


async def list_all(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    shown = [ingress.show(i) for i in sorted(ingress.instances.values(), key=_by_id)]
    return json_response({"data": shown})


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
    if ingress.instances.get(instance_id) is None:
        return _not_found(instance_id)
    await ingress.put_instance(instance_id, None)
    await sync_callback(ingress, instance_id, None)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/instances", create)
    app.router.add_get("/instances", list_all)
    app.router.add_get("/instances/{id}", get_one)
    app.router.add_patch("/instances/{id}", patch)
    app.router.add_delete("/instances/{id}", delete)
